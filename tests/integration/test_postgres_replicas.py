"""Read replicas on a real PostgreSQL primary + streaming replica (``pg_basebackup`` on loopback).

* an ingest through the primary is searchable at once by the same caller (read-your-writes on
  the primary), and once the replica has replayed it, searches are served by the replica;
* a replica whose replay is paused falls behind, is reported lagging, and is skipped: a write
  made by another instance is found through the primary;
* the replicas' state (healthy, lag, bytes behind) is reported, and the database's health (what
  ``ai.health()`` and ``/ready`` show) lists each replica's lag and is ``degraded`` while one lags
  beyond ``max_replica_lag``.
"""

from __future__ import annotations

import asyncio
import math

import asyncpg
import pytest

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.testing.servers.postgres import ReplicatedPostgres, replicated_isolated_database

pytestmark = pytest.mark.postgres

DIMENSIONS = 4
ACME = TenantContext.of("acme")


def record(n: int, tenant: str = "acme") -> VectorRecord:
    return VectorRecord(
        id=f"{tenant}-{n}", tenant_id=tenant, document_id=f"doc-{n}", text=f"passage {n}",
        embedding=(1.0, float(n), 0.5, 0.25),
    )  # fmt: skip


async def test_ingest_is_read_back_at_once_and_later_searches_use_the_replica(
    pg_replicated: ReplicatedPostgres,
) -> None:
    async with replicated_isolated_database(
        pg_replicated.primary.url, [r.url for r in pg_replicated.replicas]
    ) as database:
        router = database.replicas
        assert router is not None
        store = PgVectorStore(database, dimensions=DIMENSIONS)
        await store.setup()
        await store.upsert(ACME, [record(n) for n in range(5)])
        first = await store.dense_search(ACME, [1.0, 2.0, 0.5, 0.25], top_k=5)
        assert {h.record.id for h in first} == {f"acme-{n}" for n in range(5)}  # read-your-writes

        async def served_by_replica() -> bool:
            before = router.status()[0].reads
            hits = await store.dense_search(ACME, [1.0, 2.0, 0.5, 0.25], top_k=5)
            assert [h.record.id for h in hits] == [h.record.id for h in first]
            return router.status()[0].reads > before

        await eventually_async(served_by_replica, what="a search served by the replica")
        assert await store.count(ACME) == 5
        state = router.status()[0]
        assert state.healthy and state.lag_seconds == 0.0 and state.bytes_behind == 0
        report = await database.health()
        assert report.status == "ok"
        [shown] = report.details["replicas"]
        assert shown["status"] == "ok" and shown["healthy"]
        assert 0.0 <= shown["lag_seconds"] <= shown["max_lag_seconds"]


async def test_the_callers_own_write_is_read_from_the_primary_while_the_replica_lacks_it(
    pg_replicated: ReplicatedPostgres,
) -> None:
    replica = pg_replicated.replicas[0]
    async with replicated_isolated_database(
        pg_replicated.primary.url, [replica.url], max_replica_lag=60.0
    ) as database:
        router = database.replicas
        assert router is not None
        store = PgVectorStore(database, dimensions=DIMENSIONS)
        await store.setup()
        await store.upsert(ACME, [record(0)])
        await store.upsert(TenantContext.of("globex"), [record(0, "globex")])
        control = await asyncpg.connect(replica.url)
        try:
            await eventually_async(lambda: _replica_caught_up(router), what="the replica caught up")
            await control.execute("SELECT pg_wal_replay_pause()")
            await store.upsert(ACME, [record(1)])  # the replica does not replay this yet
            await router.probe()
            assert router.status()[0].healthy and router.status()[0].bytes_behind > 0
            primary_reads = router.primary_reads
            hits = await store.dense_search(ACME, [1.0, 1.0, 0.5, 0.25], top_k=5)
            assert {h.record.id for h in hits} == {"acme-0", "acme-1"}  # read-your-writes
            assert router.primary_reads == primary_reads + 1
            replica_reads = router.status()[0].reads
            other = await store.dense_search(TenantContext.of("globex"), [1.0, 0.0, 0.5, 0.25], top_k=5)
            assert [h.record.id for h in other] == ["globex-0"]
            assert router.status()[0].reads == replica_reads + 1  # another tenant still reads there
        finally:
            await control.execute("SELECT pg_wal_replay_resume()")
            await control.close()


async def test_a_lagging_replica_is_skipped_and_reported(pg_replicated: ReplicatedPostgres) -> None:
    replica = pg_replicated.replicas[0]
    async with replicated_isolated_database(
        pg_replicated.primary.url, [replica.url], max_replica_lag=0.5
    ) as database:
        router = database.replicas
        assert router is not None
        store = PgVectorStore(database, dimensions=DIMENSIONS)
        await store.setup()
        await store.upsert(ACME, [record(0)])
        control = await asyncpg.connect(replica.url)
        # another instance writes through the primary: this process has no write to wait for
        other = await PostgresDatabase.connect(
            pg_replicated.primary.url, min_size=1, max_size=1,
            server_settings={"search_path": await _search_path(database)},
        )  # fmt: skip
        try:
            await eventually_async(lambda: _replica_caught_up(router), what="the replica caught up")
            await control.execute("SELECT pg_wal_replay_pause()")
            async with other.pool.acquire() as conn:
                await conn.execute(
                    f"UPDATE {store.table} SET text = 'changed elsewhere' WHERE tenant_id = 'acme'"
                )

            async def lagging() -> bool:
                await router.probe()
                lag = router.status()[0].lag_seconds
                return not math.isfinite(lag) or lag > 0.5

            await eventually_async(lagging, what="the paused replica reported lagging")
            assert router.status()[0].bytes_behind > 0
            report = await database.health()  # what ai.health() and /ready show for the stores
            assert report.status == "degraded"
            [shown] = report.details["replicas"]
            assert shown["status"] == "degraded" and shown["address"] == router.status()[0].address
            assert shown["lag_seconds"] is None or shown["lag_seconds"] > 0.5
            assert shown["bytes_behind"] > 0 and shown["max_lag_seconds"] == 0.5
            hits = await store.dense_search(TenantContext.of("acme"), [1.0, 0.0, 0.5, 0.25], top_k=1)
            assert [h.record.text for h in hits] == ["changed elsewhere"]  # from the primary
        finally:
            await control.execute("SELECT pg_wal_replay_resume()")
            await control.close()
            await other.close()


async def _search_path(database: PostgresDatabase) -> str:
    async with database.pool.acquire() as conn:
        return str(await conn.fetchval("SHOW search_path"))


async def _replica_caught_up(router: object) -> bool:
    from motadata_ai.adapters.postgres.replicas import ReplicaRouter

    assert isinstance(router, ReplicaRouter)
    await router.probe()
    state = router.status()[0]
    return state.healthy and state.bytes_behind == 0


async def eventually_async(condition: object, *, what: str, within: float = 20.0) -> None:
    """Wait until the coroutine ``condition()`` returns true (a liveness bound, not a speed check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.05)


async def test_the_apps_health_shows_each_replicas_lag_and_is_degraded_beyond_the_limit(
    pg_replicated: ReplicatedPostgres, tmp_path: object
) -> None:
    from dependency_injector import providers

    from motadata_ai.adapters.memory.embedding import HashEmbeddings
    from motadata_ai.adapters.memory.llm import FunctionLLM
    from motadata_ai.api import connect
    from motadata_ai.container import Container
    from motadata_ai.settings import Settings

    replica = pg_replicated.replicas[0]
    settings = Settings(profile="services", data_dir=tmp_path, postgres_dsn=pg_replicated.primary.url)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    async with replicated_isolated_database(
        pg_replicated.primary.url, [replica.url], max_replica_lag=0.5
    ) as database:
        container.database.override(providers.Object(database))
        control = await asyncpg.connect(replica.url)
        try:
            async with connect(container=container, warm_up=False) as ai:
                router = database.replicas
                await eventually_async(lambda: _replica_caught_up(router), what="the replica caught up")
                report = await ai.health()
                [shown] = report.components["vector_store"].details["replicas"]
                assert shown["status"] == "ok" and shown["lag_seconds"] <= 0.5
                await control.execute("SELECT pg_wal_replay_pause()")
                async with database.pool.acquire() as conn:  # a write the paused replica lacks
                    await conn.execute("CREATE TABLE lag_marker (n int)")

                async def degraded() -> bool:
                    component = (await ai.health()).components["vector_store"]
                    return component.status == "degraded"

                await eventually_async(degraded, what="the lagging replica reported in ai.health()")
                report = await ai.health()
                [shown] = report.components["vector_store"].details["replicas"]
                assert shown["status"] == "degraded" and shown["bytes_behind"] > 0
                assert shown["lag_seconds"] is None or shown["lag_seconds"] > 0.5
                assert report.ready  # degraded still serves: reads skip the replica
        finally:
            await control.execute("SELECT pg_wal_replay_resume()")
            await control.close()
