"""The VectorStorePort contract on PostgreSQL + pgvector (real server), in each tenant layout."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.ports.vector_store import VectorStorePort
from motadata_ai.testing.contracts.vector_store import VectorStoreServerContract
from motadata_ai.testing.servers.postgres import ReplicatedPostgres, replicated_isolated_database

pytestmark = pytest.mark.postgres


class _PgContract(VectorStoreServerContract):
    store_options: dict[str, object] = {}

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_isolated_database: PostgresDatabase) -> None:
        self.database = pg_isolated_database

    async def make_store(self) -> VectorStorePort:
        store = PgVectorStore(self.database, dimensions=self.dimensions, **self.store_options)  # type: ignore[arg-type]
        await store.setup()
        return store

    async def make_unreachable_store(self) -> VectorStorePort | None:
        database = await PostgresDatabase.connect(
            "postgresql://app:s3cret@127.0.0.1:1/motadata", lazy=True, connect_timeout=2
        )
        return PgVectorStore(database, dimensions=self.dimensions)


class TestPgVectorStoreSharedPartition(_PgContract):
    """Small tenants: rows in the shared partition, exact search."""


class TestPgVectorStorePerTenantHnsw(_PgContract):
    """Every tenant promoted to its own HNSW-indexed partition after its first rows."""

    store_options = {"exact_search_below": 1}


class TestPgVectorStoreHalfvec(_PgContract):
    """halfvec storage, promoted tenants."""

    store_options = {"storage": "halfvec", "exact_search_below": 2}


class TestPgVectorStoreReadReplica(_PgContract):
    """Reads on a streaming replica (writes and read-your-writes on the primary), promoted tenants."""

    store_options = {"exact_search_below": 2}

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_replicated: ReplicatedPostgres) -> AsyncIterator[None]:
        async with replicated_isolated_database(
            pg_replicated.primary.url, [r.url for r in pg_replicated.replicas]
        ) as database:
            self.database = database
            yield
