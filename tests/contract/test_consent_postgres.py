"""The consent store contract on real PostgreSQL."""

from __future__ import annotations

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.consent import PostgresConsentStore
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.ports.consent import ConsentStorePort
from motadata_ai.testing.contracts.consent import ConsentStoreContract

pytestmark = pytest.mark.postgres


class TestPostgresConsentStore(ConsentStoreContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_isolated_database: PostgresDatabase) -> None:
        self.database = pg_isolated_database

    async def make_store(self) -> ConsentStorePort:
        return PostgresConsentStore(self.database)
