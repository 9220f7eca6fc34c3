"""The document store contract on real PostgreSQL."""

from __future__ import annotations

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.testing.contracts.documents import DocumentStoreServerContract

pytestmark = pytest.mark.postgres


class TestPostgresDocumentStore(DocumentStoreServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_isolated_database: PostgresDatabase) -> None:
        self.database = pg_isolated_database

    async def make_store(self) -> PostgresDocumentStore:
        store = PostgresDocumentStore(self.database)
        await store.setup()
        return store

    async def make_unreachable_store(self) -> PostgresDocumentStore:
        database = await PostgresDatabase.connect(
            "postgresql://app:s3cret@127.0.0.1:1/motadata", lazy=True, connect_timeout=2
        )
        return PostgresDocumentStore(database)
