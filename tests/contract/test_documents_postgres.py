"""The document store contract on real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.testing.contracts.documents import A, DocumentStoreServerContract, chunks_of, doc
from motadata_ai.testing.servers.postgres import ReplicatedPostgres, replicated_isolated_database

pytestmark = pytest.mark.postgres


class TestPostgresDocumentStore(DocumentStoreServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_isolated_database: PostgresDatabase) -> None:
        self.database = pg_isolated_database

    async def make_store(self) -> PostgresDocumentStore:
        store = PostgresDocumentStore(self.database)
        await store.setup()
        return store

    async def make_vector_store(self, store: PostgresDocumentStore) -> PgVectorStore:
        vectors = PgVectorStore(self.database, dimensions=self.dimensions)
        await vectors.setup()
        return vectors

    async def test_a_vector_store_on_another_database_is_refused(self, postgres_dsn: str) -> None:
        store = await self.make_store()
        other = await PostgresDatabase.connect(postgres_dsn, min_size=0, max_size=1, lazy=True)
        try:
            document = doc(A, "d1")
            with pytest.raises(ConfigurationError):
                await store.write_version(
                    A, document, chunks_of(document, 4), vectors=PgVectorStore(other, dimensions=4)
                )
        finally:
            await other.close()
        assert await store.get(A, "d1") is None

    async def make_unreachable_store(self) -> PostgresDocumentStore:
        database = await PostgresDatabase.connect(
            "postgresql://app:s3cret@127.0.0.1:1/motadata", lazy=True, connect_timeout=2
        )
        return PostgresDocumentStore(database)


class TestPostgresDocumentStoreOnReadReplica(TestPostgresDocumentStore):
    """The document store contract with lists and counts on a streaming replica."""

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_replicated: ReplicatedPostgres) -> AsyncIterator[None]:  # type: ignore[override]
        async with replicated_isolated_database(
            pg_replicated.primary.url, [r.url for r in pg_replicated.replicas]
        ) as database:
            self.database = database
            yield
