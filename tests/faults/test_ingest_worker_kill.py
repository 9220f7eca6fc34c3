"""kill -9 of an ingestion worker mid-job: no job is lost, nothing is written twice.

Worker A (its own process, slow embeddings) takes jobs from the JetStream work-queue stream and
is killed with SIGKILL while it holds two of them, some documents already committed. Worker B
then starts and takes over: the jobs A held are delivered again after the ack wait. Invariants:

* every submitted job's report reaches the caller (0 lost);
* every document has exactly one version and its chunks once (0 written twice): what A
  committed is ``unchanged`` for B, what A was writing committed whole or not at all;
* the kill happened mid-job: the consumer redelivered at least one job.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from motadata_ai.adapters.nats import NatsBus
from motadata_ai.adapters.nats.ingest_jobs import INGEST_STREAM, connect_jobs_bus
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.bus.delivery import consumer_name
from motadata_ai.domain.retrieval.jobs import INGEST_DURABLE, JOBS_PATTERN, IngestJobQueue, IngestWorker
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.testing.servers.nats import NatsServer
from motadata_ai.testing.servers.postgres import isolated_database
from tests.faults.ingest_worker_process import DIMENSIONS, rag_factory

pytestmark = [pytest.mark.faults, pytest.mark.nats, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
JOBS = 6
PER_JOB = 3
ACME = TenantContext.of("acme")


def job_documents(job: int) -> list[Document]:
    return [
        Document(id=f"kb-{job}-{n}", title=f"Article {job}.{n}", text=f"Article {job}.{n}. " + steps(job, n))
        for n in range(PER_JOB)
    ]  # fmt: skip


def steps(job: int, n: int) -> str:
    return " ".join(f"step {i} of procedure {job}-{n}." for i in range(30))


def start_worker_a(dsn: str, schema: str, url: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.faults.ingest_worker_process", dsn, schema, url, "A", "0.7"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


async def test_a_worker_killed_mid_job_loses_no_job_and_writes_nothing_twice(
    postgres_dsn: str, nats_server_factory: Callable[[], NatsServer]
) -> None:
    server = nats_server_factory()
    async with isolated_database(postgres_dsn) as database:
        async with database.pool.acquire() as conn:
            schema = str(await conn.fetchval("SHOW search_path")).split(",")[0].strip()
        documents, vectors = PostgresDocumentStore(database), PgVectorStore(database, dimensions=DIMENSIONS)
        await documents.setup()
        await vectors.setup()
        events = await NatsBus.connect(server.url, poll_interval=0.2)
        jobs = await connect_jobs_bus(server.url, ack_wait=2.0, poll_interval=0.2, drain_timeout=0.5)
        worker_a = start_worker_a(postgres_dsn, schema, server.url)
        worker_b: IngestWorker | None = None
        try:
            assert worker_a.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(worker_a.stdout.readline), 60)
            assert line.strip() == "ready"
            queue = IngestJobQueue(jobs, events)
            handles = [await queue.submit(ACME, job_documents(j)) for j in range(JOBS)]

            async def some_written() -> bool:
                return await documents.count(ACME) >= 1

            await eventually_async(some_written, what="worker A committing a first document")
            worker_a.kill()  # SIGKILL mid-job: it holds unacknowledged jobs
            worker_a.wait(timeout=10)
            written_by_a = await documents.count(ACME)
            assert written_by_a < JOBS * PER_JOB

            worker_b = await IngestWorker(jobs, rag_factory(database, 0.0), events=events, name="B").start(
                concurrency=2
            )
            reports = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 90)
            info = await jobs.client.jetstream().consumer_info(
                INGEST_STREAM, consumer_name(INGEST_DURABLE, JOBS_PATTERN)
            )
        finally:
            if worker_a.poll() is None:
                worker_a.kill()
            if worker_b is not None:
                await worker_b.stop()
            await jobs.aclose()
            await events.aclose()

        assert len(reports) == JOBS and all(r.failures == () for r in reports)  # 0 lost
        # every document is reported once: created by the worker that wrote it, or unchanged when a
        # redelivered job finds what the killed worker had committed (a job it finished keeps its report)
        assert sum(r.created + r.unchanged for r in reports) == JOBS * PER_JOB
        assert sum(r.updated for r in reports) == 0
        assert sum(r.created for r in reports) >= JOBS * PER_JOB - written_by_a
        assert info.delivered is not None and info.delivered.consumer_seq > JOBS  # a job delivered again
        for job in range(JOBS):
            for doc in job_documents(job):
                versions = await documents.versions(ACME, doc.id)
                assert [v.version for v in versions] == [1], doc.id  # written once
        records = await vectors.count(ACME)
        stored = await documents.list(ACME)
        assert len(stored) == JOBS * PER_JOB
        assert records == sum(len(d.chunk_ids) for d in stored)  # no chunk written twice


async def eventually_async(condition: Callable[[], object], *, what: str, within: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():  # type: ignore[misc]
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.05)
