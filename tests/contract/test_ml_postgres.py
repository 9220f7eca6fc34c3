"""The ML store contracts on PostgreSQL (real server; a fresh schema per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.ml import (
    PostgresExperimentStore,
    PostgresModelRegistry,
    PostgresPredictionLog,
)
from motadata_ai.ports.ml import (
    ExperimentStorePort,
    ExperimentStoreUnavailable,
    ModelRegistryPort,
    PredictionLogPort,
    RegistryUnavailable,
)
from motadata_ai.testing.contracts.ml import (
    SECRET,
    ExperimentStoreServerContract,
    ModelRegistryServerContract,
    PredictionLogContract,
)
from motadata_ai.testing.servers.postgres import (
    ReplicatedPostgres,
    isolated_database,
    replicated_isolated_database,
)

pytestmark = pytest.mark.postgres

UNREACHABLE_DSN = f"postgresql://app:{SECRET}@127.0.0.1:1/ml"


class _PostgresStores:
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _databases(self, postgres_dsn: str) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            self._stack = stack
            self._dsn = postgres_dsn
            yield

    async def database(self) -> PostgresDatabase:
        return await self._stack.enter_async_context(isolated_database(self._dsn))

    async def unreachable(self) -> PostgresDatabase:
        db = await PostgresDatabase.connect(UNREACHABLE_DSN, lazy=True, connect_timeout=1.0)
        self._stack.push_async_callback(db.close)
        return db


class TestPostgresModelRegistry(_PostgresStores, ModelRegistryServerContract):
    async def make_registry(self) -> ModelRegistryPort:
        return PostgresModelRegistry(await self.database())

    async def make_unreachable_registry(self) -> ModelRegistryPort | None:
        return PostgresModelRegistry(await self.unreachable())

    async def test_unreachable_is_registry_unavailable(self) -> None:
        registry = PostgresModelRegistry(await self.unreachable())
        with pytest.raises(RegistryUnavailable) as caught:
            await registry.get_version("tenant-a", "priority", 1)
        assert "127.0.0.1:1" in caught.value.address
        assert SECRET not in caught.value.address


class TestPostgresExperimentStore(_PostgresStores, ExperimentStoreServerContract):
    async def make_store(self) -> ExperimentStorePort:
        return PostgresExperimentStore(await self.database())

    async def make_unreachable_store(self) -> ExperimentStorePort | None:
        return PostgresExperimentStore(await self.unreachable())

    async def test_unreachable_is_experiment_store_unavailable(self) -> None:
        store = PostgresExperimentStore(await self.unreachable())
        with pytest.raises(ExperimentStoreUnavailable):
            await store.get_run("tenant-a", "run-1")


class TestPostgresPredictionLog(_PostgresStores, PredictionLogContract):
    async def make_log(self) -> PredictionLogPort:
        return PostgresPredictionLog(await self.database())

    async def test_keeps_only_the_newest_entries(self) -> None:
        log = PostgresPredictionLog(await self.database(), max_entries=3)
        await log.append([self.entry(n=i) for i in range(5)])
        await log.append([self.entry(n=5)])
        assert [e.inputs["hour"] for e in await log.recent("tenant-a", "priority")] == [5.0, 4.0, 3.0]


class TestPostgresModelRegistryOnReadReplica(TestPostgresModelRegistry):
    """The registry contract with reads on a streaming replica: an alias read right after a
    promote, by the same caller, sees the promote (read-your-writes on the primary)."""

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _databases(self, pg_replicated: ReplicatedPostgres) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            self._stack = stack
            self._replicated = pg_replicated
            yield

    async def database(self) -> PostgresDatabase:
        replicas = [r.url for r in self._replicated.replicas]
        return await self._stack.enter_async_context(
            replicated_isolated_database(self._replicated.primary.url, replicas)
        )
