"""The key store contract on real PostgreSQL."""

from __future__ import annotations

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.keys import PostgresKeyStore
from motadata_ai.ports.keys import KeyStorePort
from motadata_ai.testing.contracts.keys import SECRET, KeyStoreServerContract

pytestmark = pytest.mark.postgres


class TestPostgresKeyStore(KeyStoreServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_isolated_database: PostgresDatabase) -> None:
        self.database = pg_isolated_database

    async def make_store(self) -> KeyStorePort:
        return PostgresKeyStore(self.database)

    async def make_unreachable_store(self) -> KeyStorePort:
        database = await PostgresDatabase.connect(
            f"postgresql://app:{SECRET}@127.0.0.1:1/motadata", lazy=True, connect_timeout=2
        )
        return PostgresKeyStore(database)
