"""The memory store contract on real PostgreSQL + pgvector."""

from __future__ import annotations

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.memory_store import PostgresMemoryStore
from motadata_ai.ports.memory import MemoryStorePort
from motadata_ai.testing.contracts.memory_store import SECRET, MemoryStoreServerContract

pytestmark = pytest.mark.postgres


class TestPostgresMemoryStore(MemoryStoreServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_isolated_database: PostgresDatabase) -> None:
        self.database = pg_isolated_database

    async def make_store(self) -> MemoryStorePort:
        return PostgresMemoryStore(self.database)

    async def make_unreachable_store(self) -> MemoryStorePort | None:
        database = await PostgresDatabase.connect(
            f"postgresql://app:{SECRET}@127.0.0.1:1/motadata", lazy=True, connect_timeout=2
        )
        return PostgresMemoryStore(database)
