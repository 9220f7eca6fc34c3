"""kill -9 of a PostgreSQL read replica under search load: no search fails.

A primary with one streaming replica (``pg_basebackup`` on loopback); the vector store's reads go
to the replica. With searches in flight the replica is killed (SIGKILL of the postmaster and its
backends). Invariants, not timings:

* no search fails and every search returns the right passages: a read whose replica connection
  dies is run again on the primary, and the replica is skipped until a probe finds it back;
* once the replica is started again it catches up and serves searches again, with no restart of
  the application.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.testing.contracts.bus import eventually
from motadata_ai.testing.servers.postgres import ReplicatedPostgres, replicated_isolated_database

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

ACME = TenantContext.of("acme")
WORKERS = 8


async def test_searches_survive_a_kill_9_of_the_read_replica(
    pg_replicated_factory: Callable[[], ReplicatedPostgres],
) -> None:
    servers = pg_replicated_factory()
    replica = servers.replicas[0]
    async with replicated_isolated_database(servers.primary.url, [replica.url], max_size=8) as database:
        router = database.replicas
        assert router is not None
        store = PgVectorStore(database, dimensions=4)
        await store.setup()
        records = [
            VectorRecord(id=f"r{n}", tenant_id="acme", document_id=f"d{n}", text=f"reset password step {n}",
                         embedding=(1.0, float(n), 0.5, 0.25))
            for n in range(20)
        ]  # fmt: skip
        await store.upsert(ACME, records)
        dense = [h.record.id for h in await store.dense_search(ACME, [1.0, 2.0, 0.5, 0.25], top_k=5)]
        keyword = [h.record.id for h in await store.keyword_search(ACME, "password", top_k=5)]
        assert len(dense) == 5 and len(keyword) == 5
        outcomes: Counter[str] = Counter()
        failures: list[BaseException] = []
        stop = asyncio.Event()

        async def load(worker: int) -> None:
            while not stop.is_set():
                try:
                    if worker % 2:
                        hits = await store.dense_search(ACME, [1.0, 2.0, 0.5, 0.25], top_k=5)
                    else:
                        hits = await store.keyword_search(ACME, "password", top_k=5)
                except Exception as error:  # any error is a failed search
                    failures.append(error)
                    outcomes["failed"] += 1
                else:
                    assert [h.record.id for h in hits] == (dense if worker % 2 else keyword)
                    outcomes["ok"] += 1
                await asyncio.sleep(0)

        workers = [asyncio.create_task(load(w)) for w in range(WORKERS)]
        try:
            await eventually(lambda: router.status()[0].reads >= 50, what="searches served by the replica")
            replica.kill()  # SIGKILL with searches in flight on it
            before = outcomes["ok"]
            await eventually(
                lambda: outcomes["ok"] >= before + 100, within=30, what="searches while it is down"
            )
            assert not router.status()[0].healthy and router.primary_reads > 0

            await asyncio.to_thread(replica.start)
            served = router.status()[0].reads
            await eventually(lambda: router.status()[0].reads > served + 20, within=30,
                             what="searches served by the restarted replica")  # fmt: skip
        finally:
            stop.set()
            await asyncio.gather(*workers)
        assert failures == [] and outcomes["failed"] == 0, failures[:3]
