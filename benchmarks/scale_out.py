"""Scale-out figures: gateway processes on a Redis Cluster, ingestion workers on JetStream, the
tiered cache's tiers, and read-replica searches, each beside its baseline from the same run.

* **gateway**: the same load (``--requests`` chat calls, ``--concurrency`` in flight in all, new
  prompts so every call takes the rate-limit script and a cache miss + store on the cluster)
  through 1, 2 and 4 SDK processes sharing a 3-master Valkey Cluster; the model answers after a
  fixed ``--latency`` (an in-process model, so the figure is the SDK's and the cluster's cost, not
  a provider's). Throughput from the first call to the last, p95 per call.
* **ingest**: Cranfield (1,400 abstracts, ``../shared/data/cranfield``) submitted as jobs of
  ``--job-size`` documents on the JetStream work queue, processed by 1, 2 and 4 worker processes
  into PostgreSQL + pgvector (hash embeddings: the pipeline's cost, not a model's). Documents/s
  from the first submit to the last report, p95 of a job's submit-to-report time.
* **tiers**: ``get`` of an L1 hit (TieredCache) beside an L2 hit (RedisCache on the cluster).
* **replica**: concurrent dense searches on the primary beside the same searches routed to a
  streaming replica (``read_dsns``).
* **dedup**: 200 identical concurrent requests of one tenant split over 2 SDK processes on the
  cluster: provider calls made with the cross-instance lease beside in-process de-duplication only.
* **batching**: ``generate_batch`` (concurrency 16) beside the same requests one after another,
  and 256 concurrent single-text embedding callers merged into provider batches beside one
  provider call each, on a provider with a fixed ``--latency`` per call that serves one call at a
  time (a local model on the CPU) and on one that serves any number at once.

Last line: one JSON object with ``gateway_rps_1``, ``gateway_rps_2``, ``ingest_docs_per_s_1``,
``ingest_docs_per_s_2``, ``l1_hit_p95_ms``, ``l2_hit_p95_ms`` (and the rest). ``--quick`` runs a
smaller load; ``--parts dedup,batching`` runs only those parts. Run:
``python benchmarks/scale_out.py [--quick] [--parts ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CRANFIELD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cranfield"
DIMENSIONS = 64


def p95(values: list[float]) -> float:
    """The 95th percentile (ms when given ms)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


# -- gateway processes --------------------------------------------------------------------------


def gateway_child(
    url: str,
    namespace: str,
    requests: int,
    concurrency: int,
    latency: float,
    tag: str,
    start_at: float,
    out: Any,
) -> None:
    """One SDK process: ``requests`` calls, ``concurrency`` at a time, from ``start_at`` on."""
    asyncio.run(_gateway_child(url, namespace, requests, concurrency, latency, tag, start_at, out))


async def _gateway_child(
    url: str,
    namespace: str,
    requests: int,
    concurrency: int,
    latency: float,
    tag: str,
    start_at: float,
    out: Any,
) -> None:
    from motadata_ai.adapters.memory.embedding import HashEmbeddings
    from motadata_ai.adapters.memory.llm import FunctionLLM
    from motadata_ai.adapters.redis import RedisCache
    from motadata_ai.adapters.redis.limits import RedisLimits
    from motadata_ai.domain.gateway import Gateway, GatewayConfig
    from motadata_ai.domain.values.llm import ChatRequest, Message

    cache = RedisCache.from_url(url, namespace=namespace, timeout=2.0)
    limits = RedisLimits(cache.client, address=url, namespace=namespace)
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "answer", delay=latency),
        embeddings=HashEmbeddings(),
        config=GatewayConfig(
            default_model="m",
            max_retries=0,
            requests_per_minute=10_000_000,
            burst_size=10_000_000,
            request_deduplication=False,
        ),
        cache=cache,
        limits=limits,
    )
    tenants = [f"t{i}" for i in range(16)]
    await gateway.generate(
        ChatRequest(model="m", messages=(Message(role="user", content=f"warm {tag}"),)), tenant_id="t0"
    )
    latencies: list[float] = []
    counter = iter(range(requests))
    await asyncio.sleep(max(0.0, start_at - time.time()))  # every process starts together
    began = time.time()

    async def loop() -> None:
        for n in counter:
            request = ChatRequest(model="m", messages=(Message(role="user", content=f"{tag} question {n}"),))
            t = time.perf_counter()
            await gateway.generate(request, tenant_id=tenants[n % len(tenants)])
            latencies.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    ended = time.time()
    await cache.aclose()
    out.put({"began": began, "ended": ended, "latencies": latencies, "errors": gateway.stats.cache_errors})


def gateway_run(
    url: str, processes: int, requests: int, concurrency: int, latency: float
) -> dict[str, float]:
    """The same total load through ``processes`` processes; throughput and p95."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    start_at = time.time() + 8.0 + 2.0 * processes  # every child imported and warmed by then
    children = [
        ctx.Process(
            target=gateway_child,
            args=(
                url,
                namespace,
                requests // processes,
                max(1, concurrency // processes),
                latency,
                f"p{i}",
                start_at,
                out,
            ),
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=300) for _ in children]
    for child in children:
        child.join(timeout=30)
    began = min(r["began"] for r in results)
    ended = max(r["ended"] for r in results)
    latencies = [x for r in results for x in r["latencies"]]
    return {"rps": len(latencies) / (ended - began), "p95_ms": p95(latencies), "calls": len(latencies)}


# -- cross-instance de-duplication ---------------------------------------------------------------


def dedup_child(
    url: str, namespace: str, requests: int, latency: float, leases: bool, start_at: float, out: Any
) -> None:
    """One SDK process sending ``requests`` identical requests at once (with or without leases)."""
    asyncio.run(_dedup_child(url, namespace, requests, latency, leases, start_at, out))


async def _dedup_child(
    url: str, namespace: str, requests: int, latency: float, leases: bool, start_at: float, out: Any
) -> None:
    from motadata_ai.adapters.memory.embedding import HashEmbeddings
    from motadata_ai.adapters.memory.llm import FunctionLLM
    from motadata_ai.adapters.redis import RedisCache
    from motadata_ai.adapters.redis.leases import RedisLeases
    from motadata_ai.domain.gateway import Gateway, GatewayConfig
    from motadata_ai.domain.values.llm import ChatRequest, Message

    cache = RedisCache.from_url(url, namespace=namespace, timeout=2.0)
    provider = FunctionLLM(lambda request: "answer", delay=latency)
    gateway = Gateway(
        llm=provider,
        embeddings=HashEmbeddings(),
        config=GatewayConfig(default_model="m", max_retries=0, requests_per_minute=None),
        cache=cache,
        leases=RedisLeases(cache.client, address=url, namespace=namespace) if leases else None,
    )
    await gateway.generate(
        ChatRequest(model="m", messages=(Message(role="user", content="warm"),)), tenant_id="t1"
    )
    warm_calls = len(provider.calls)
    request = ChatRequest(model="m", messages=(Message(role="user", content="the same question"),))
    await asyncio.sleep(max(0.0, start_at - time.time()))
    latencies: list[float] = []

    async def one() -> None:
        t = time.perf_counter()
        await gateway.generate(request, tenant_id="t0")
        latencies.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(one() for _ in range(requests)))
    await cache.aclose()
    out.put({"calls": len(provider.calls) - warm_calls, "latencies": latencies})


def dedup_run(url: str, processes: int, requests: int, latency: float, leases: bool) -> dict[str, float]:
    """``requests`` identical requests of one tenant split over ``processes`` processes at once:
    provider calls made and p95 per request."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    start_at = time.time() + 8.0 + 2.0 * processes
    children = [
        ctx.Process(
            target=dedup_child, args=(url, namespace, requests // processes, latency, leases, start_at, out)
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=300) for _ in children]
    for child in children:
        child.join(timeout=30)
    latencies = [x for r in results for x in r["latencies"]]
    return {"provider_calls": sum(r["calls"] for r in results), "p95_ms": p95(latencies)}


# -- request batching and embedding coalescing -----------------------------------------------------


async def batching(requests: int, concurrency: int, latency: float, embed_callers: int) -> dict[str, float]:
    """``generate_batch`` beside the same requests one after another, and concurrent embedding
    callers merged into provider batches beside the same callers one provider call each."""
    from motadata_ai.adapters.memory.embedding import HashEmbeddings
    from motadata_ai.adapters.memory.llm import FunctionLLM
    from motadata_ai.domain.gateway import Gateway, GatewayConfig
    from motadata_ai.domain.values.llm import ChatRequest, EmbeddingRequest, EmbeddingResponse, Message

    class SlowEmbeddings(HashEmbeddings):
        """Hash vectors after a fixed wait per provider call; ``serial``: one call at a time (a
        local model on the CPU, or an API held to one call in flight), else unlimited calls at once."""

        def __init__(self, *, serial: bool) -> None:
            super().__init__(dimensions=DIMENSIONS)
            self._gate = asyncio.Semaphore(1 if serial else 1_000_000)

        async def embed(
            self, request: EmbeddingRequest, *, timeout: float | None = None
        ) -> EmbeddingResponse:
            async with self._gate:
                await asyncio.sleep(latency)
                return await super().embed(request, timeout=timeout)

    figures: dict[str, float] = {}
    config = GatewayConfig(default_model="m", default_embedding_model="hash", requests_per_minute=None,
                           enable_caching=False, embedding_texts_per_minute=None)  # fmt: skip
    gateway = Gateway(
        llm=FunctionLLM(lambda r: "answer", delay=latency), embeddings=HashEmbeddings(), config=config
    )
    batch = [
        ChatRequest(model="m", messages=(Message(role="user", content=f"q{n}"),)) for n in range(requests)
    ]
    t = time.perf_counter()
    for request in batch:
        await gateway.generate(request, tenant_id="t0")
    figures["sequential_rps"] = requests / (time.perf_counter() - t)
    t = time.perf_counter()
    await gateway.generate_batch(batch, tenant_id="t0", concurrency=concurrency)
    figures["generate_batch_rps"] = requests / (time.perf_counter() - t)

    variants = [
        (f"{merging}_{provider}", window, max_inputs, provider == "serial")
        for provider in ("serial", "parallel")
        for merging, window, max_inputs in (("uncoalesced", 0.0, 1), ("coalesced", 0.002, 256))
    ]
    for label, window, max_inputs, serial in variants:
        embeddings = SlowEmbeddings(serial=serial)
        merged = config.model_copy(
            update={"embedding_batch_window": window, "embedding_batch_max_inputs": max_inputs}
        )
        embedder = Gateway(llm=FunctionLLM(lambda r: ""), embeddings=embeddings, config=merged)
        latencies: list[float] = []

        async def caller(n: int, embedder: Gateway = embedder, latencies: list[float] = latencies) -> None:
            t0 = time.perf_counter()
            await embedder.embed([f"text {n}"], tenant_id="t0")
            latencies.append((time.perf_counter() - t0) * 1000)

        t = time.perf_counter()
        await asyncio.gather(*(caller(n) for n in range(embed_callers)))
        figures[f"embed_{label}_texts_per_s"] = embed_callers / (time.perf_counter() - t)
        figures[f"embed_{label}_provider_calls"] = len(embeddings.calls)
        figures[f"embed_{label}_p95_ms"] = p95(latencies)
    return figures


# -- ingestion workers ----------------------------------------------------------------------------


def worker_child(dsn: str, schema: str, nats_url: str, name: str, ready: Any) -> None:
    """One ingestion worker process (hash embeddings) until terminated."""
    asyncio.run(_worker_child(dsn, schema, nats_url, name, ready))


async def _worker_child(dsn: str, schema: str, nats_url: str, name: str, ready: Any) -> None:
    from motadata_ai.adapters.memory.embedding import HashEmbeddings
    from motadata_ai.adapters.memory.llm import FunctionLLM
    from motadata_ai.adapters.nats import NatsBus
    from motadata_ai.adapters.nats.ingest_jobs import connect_jobs_bus
    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
    from motadata_ai.adapters.postgres.vector_store import PgVectorStore
    from motadata_ai.domain.gateway import Gateway, GatewayConfig
    from motadata_ai.domain.retrieval.config import RAGConfig
    from motadata_ai.domain.retrieval.jobs import IngestWorker
    from motadata_ai.domain.retrieval.system import RAGSystem

    database = await PostgresDatabase.connect(
        dsn, min_size=1, max_size=4, server_settings={"search_path": f"{schema},public"}
    )
    vectors, documents = PgVectorStore(database, dimensions=DIMENSIONS), PostgresDocumentStore(database)
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "ok"),
        embeddings=HashEmbeddings(dimensions=DIMENSIONS),
        config=GatewayConfig(
            default_model="m",
            default_embedding_model="hash",
            max_retries=0,
            requests_per_minute=0,
            enable_caching=False,
        ),
    )

    def rag_for(tenant: str) -> RAGSystem:
        return RAGSystem(
            gateway=gateway,
            vector_store=vectors,
            documents=documents,
            tenant=tenant,
            config=RAGConfig(chunk_size=256, chunk_overlap=32),
        )

    jobs = await connect_jobs_bus(nats_url, poll_interval=0.1)
    events = await NatsBus.connect(nats_url, poll_interval=0.1)
    await IngestWorker(jobs, rag_for, events=events, name=name).start(concurrency=2)
    ready.put(name)
    await asyncio.Event().wait()


def read_cranfield(limit: int) -> list[Any]:
    """Cranfield's abstracts as Documents (``.I`` id, ``.T`` title, ``.W`` text)."""
    from motadata_ai.domain.values.documents import Document

    records: list[dict[str, str]] = []
    field = None
    for line in (CRANFIELD / "cran.all.1400").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(".I"):
            records.append({"I": line[2:].strip()})
            field = None
        elif re.fullmatch(r"\.[TABW]", line.strip()):
            field = line.strip()[1]
            records[-1][field] = ""
        elif field is not None:
            records[-1][field] += line + "\n"
    documents = []
    for record in records[:limit]:
        title = " ".join(record.get("T", "").split()).rstrip(" .") or record["I"]
        text = " ".join(record.get("W", "").split()) or title
        documents.append(Document(id=f"cran-{record['I']}", title=title, text=text))
    return documents


async def ingest_run(
    dsn: str, nats_url: str, workers: int, documents: list[Any], job_size: int
) -> dict[str, float]:
    """Cranfield through ``workers`` worker processes; documents/s and p95 per job."""
    from motadata_ai.adapters.nats import NatsBus
    from motadata_ai.adapters.nats.ingest_jobs import INGEST_STREAM, connect_jobs_bus
    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
    from motadata_ai.adapters.postgres.vector_store import PgVectorStore
    from motadata_ai.domain.retrieval.jobs import IngestJobQueue

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await PostgresDatabase.connect(dsn, min_size=1, max_size=1)
    async with admin.pool.acquire() as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
    database = await PostgresDatabase.connect(
        dsn, min_size=1, max_size=2, server_settings={"search_path": f"{schema},public"}
    )
    await PostgresDocumentStore(database).setup()
    await PgVectorStore(database, dimensions=DIMENSIONS).setup()
    jobs = await connect_jobs_bus(nats_url, poll_interval=0.1)
    events = await NatsBus.connect(nats_url, poll_interval=0.1)
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    children = [
        ctx.Process(target=worker_child, args=(dsn, schema, nats_url, f"w{i}", ready)) for i in range(workers)
    ]
    for child in children:
        child.start()
    try:
        for _ in children:
            await asyncio.to_thread(ready.get, True, 120)
        queue = IngestJobQueue(jobs, events)
        began = time.perf_counter()
        batches = [documents[i : i + job_size] for i in range(0, len(documents), job_size)]
        submitted = []
        for batch in batches:
            submitted.append((time.perf_counter(), await queue.submit("cranfield", batch)))

        async def finish(at: float, handle: Any) -> tuple[float, int]:
            report = await handle.result(timeout=600)
            return (time.perf_counter() - at) * 1000, report.created

        results = await asyncio.gather(*(finish(at, h) for at, h in submitted))
        elapsed = time.perf_counter() - began
    finally:
        for child in children:
            child.terminate()
            child.join(timeout=10)
        await jobs.client.jetstream().delete_stream(INGEST_STREAM)
        await jobs.aclose()
        await events.aclose()
        await database.close()
        async with admin.pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    created = sum(c for _, c in results)
    return {
        "docs_per_s": created / elapsed,
        "job_p95_ms": p95([ms for ms, _ in results]),
        "documents": created,
    }


# -- tiers and replicas ---------------------------------------------------------------------------


async def tiers(url: str, lookups: int) -> dict[str, float]:
    """p95 of an L1 hit and of an L2 hit (ms)."""
    from motadata_ai.adapters.redis import RedisCache
    from motadata_ai.adapters.tiered import TieredCache
    from motadata_ai.domain.values import keys

    l2 = RedisCache.from_url(url, namespace=f"tiers-{uuid.uuid4().hex[:6]}", timeout=2.0)
    tiered = TieredCache(l2, l1_ttl=60.0)
    key = keys.tenant_key("acme", keys.GATEWAY, "chat", "q")
    await tiered.set(key, b"x" * 512)
    l1, l2_times = [], []
    for _ in range(lookups):
        t = time.perf_counter()
        await tiered.get(key)
        l1.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await l2.get(key)
        l2_times.append((time.perf_counter() - t) * 1000)
    await tiered.aclose()
    return {
        "l1_hit_p95_ms": p95(l1),
        "l2_hit_p95_ms": p95(l2_times),
        "l1_hit_p50_ms": statistics.median(l1),
        "l2_hit_p50_ms": statistics.median(l2_times),
    }


async def replica_searches(searches: int, records: int) -> dict[str, float]:
    """Searches/s (8 concurrent) on the primary and on a streaming replica of it."""
    import random

    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.vector_store import PgVectorStore
    from motadata_ai.domain.values.tenancy import TenantContext
    from motadata_ai.domain.values.vectors import VectorRecord
    from motadata_ai.testing.servers.postgres import ReplicatedPostgres

    servers = ReplicatedPostgres().start()
    rng = random.Random(7)
    tenant = TenantContext.of("acme")
    try:
        primary = await PostgresDatabase.connect(servers.primary.url, min_size=1, max_size=8)
        replicated = await PostgresDatabase.connect(
            servers.primary.url, min_size=1, max_size=8, read_dsns=[servers.replicas[0].url]
        )
        store = PgVectorStore(primary, dimensions=DIMENSIONS)
        await store.setup()
        batch = [
            VectorRecord(
                id=f"r{i}",
                tenant_id="acme",
                document_id=f"d{i}",
                text=f"passage {i}",
                embedding=tuple(rng.random() for _ in range(DIMENSIONS)),
            )
            for i in range(records)
        ]
        await store.upsert(tenant, batch)
        await asyncio.sleep(1.0)  # the replica replays the load
        figures = {}
        for label, database in (("primary", primary), ("replica", replicated)):
            routed = PgVectorStore(database, dimensions=DIMENSIONS)
            await routed.setup()
            queries = [[rng.random() for _ in range(DIMENSIONS)] for _ in range(searches)]
            await routed.dense_search(tenant, queries[0], top_k=10)
            pending = iter(queries)

            async def run(store: PgVectorStore, queue: Any) -> None:
                for query in queue:
                    await store.dense_search(tenant, query, top_k=10)

            began = time.perf_counter()
            await asyncio.gather(*(run(routed, pending) for _ in range(8)))
            figures[f"{label}_searches_per_s"] = searches / (time.perf_counter() - began)
        router = replicated.replicas
        figures["replica_reads"] = float(router.status()[0].reads if router else 0)
        await primary.close()
        await replicated.close()
        return figures
    finally:
        servers.remove()


# -- main ---------------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency", type=float, default=0.02, help="model latency in seconds")
    parser.add_argument(
        "--parts", default="gateway,dedup,batching,ingest,replica",
        help="comma-separated parts to run (gateway includes the tiers)",
    )  # fmt: skip
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    requests = 1200 if args.quick else 4000
    concurrency = 64
    documents_limit = 400 if args.quick else 1400

    from motadata_ai.testing.servers.nats import NatsServer
    from motadata_ai.testing.servers.postgres import PostgresServer
    from motadata_ai.testing.servers.redis_cluster import ValkeyCluster

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    figures: dict[str, float] = {}
    cluster = ValkeyCluster().start() if parts & {"gateway", "dedup"} else None
    try:
        for processes in (1, 2, 4) if "gateway" in parts else ():
            assert cluster is not None
            result = gateway_run(cluster.url, processes, requests, concurrency, args.latency)
            figures[f"gateway_rps_{processes}"] = result["rps"]
            figures[f"gateway_p95_ms_{processes}"] = result["p95_ms"]
            print(
                f"gateway  {processes} process(es): {result['rps']:8.1f} calls/s"
                f"  p95 {result['p95_ms']:6.1f} ms"
                f"  ({result['calls']:.0f} calls, model latency {args.latency * 1000:.0f} ms)",
                flush=True,
            )
        if "gateway" in parts:
            assert cluster is not None
            figures.update(await tiers(cluster.url, 2000))
            print(
                f"tiers    L1 hit p50 {figures['l1_hit_p50_ms']:.3f} ms"
                f"  p95 {figures['l1_hit_p95_ms']:.3f} ms  |  L2 (Redis Cluster) hit"
                f" p50 {figures['l2_hit_p50_ms']:.3f} ms  p95 {figures['l2_hit_p95_ms']:.3f} ms",
                flush=True,
            )
        if "dedup" in parts:
            assert cluster is not None
            for leases in (False, True):
                result = dedup_run(cluster.url, 2, 200, max(args.latency, 0.2), leases)
                label = "with leases" if leases else "in-process only"
                key = "leases" if leases else "local"
                figures[f"dedup_provider_calls_{key}"] = result["provider_calls"]
                figures[f"dedup_p95_ms_{key}"] = result["p95_ms"]
                print(
                    f"dedup    200 identical requests over 2 processes, {label}: "
                    f"{result['provider_calls']:.0f} provider call(s), p95 {result['p95_ms']:.1f} ms "
                    f"(model latency {max(args.latency, 0.2) * 1000:.0f} ms)",
                    flush=True,
                )
    finally:
        if cluster is not None:
            cluster.remove()

    if "batching" in parts:
        result = await batching(200 if args.quick else 1000, 16, args.latency, 256)
        figures.update(result)
        print(
            f"batch    generate_batch (concurrency 16) {result['generate_batch_rps']:.1f} calls/s"
            f"  |  one after another {result['sequential_rps']:.1f} calls/s",
            flush=True,
        )
        for provider in ("serial", "parallel"):
            c, u = f"embed_coalesced_{provider}", f"embed_uncoalesced_{provider}"
            print(
                f"embed    256 concurrent single-text callers, {provider} provider: coalesced"
                f" {result[c + '_provider_calls']:.0f} provider call(s), {result[c + '_texts_per_s']:.0f}"
                f" texts/s, p95 {result[c + '_p95_ms']:.1f} ms  |  uncoalesced"
                f" {result[u + '_provider_calls']:.0f} calls, {result[u + '_texts_per_s']:.0f} texts/s,"
                f" p95 {result[u + '_p95_ms']:.1f} ms",
                flush=True,
            )

    if "ingest" not in parts:
        pass
    elif (CRANFIELD / "cran.all.1400").exists():
        documents = read_cranfield(documents_limit)
        postgres, nats = PostgresServer().start(), NatsServer().start()
        try:
            for workers in (1, 2, 4):
                result = await ingest_run(postgres.url, nats.url, workers, documents, job_size=25)
                figures[f"ingest_docs_per_s_{workers}"] = result["docs_per_s"]
                figures[f"ingest_job_p95_ms_{workers}"] = result["job_p95_ms"]
                print(
                    f"ingest   {workers} worker(s):    {result['docs_per_s']:8.1f} docs/s   job p95 "
                    f"{result['job_p95_ms']:7.1f} ms  ({result['documents']:.0f} Cranfield documents)",
                    flush=True,
                )
        finally:
            postgres.remove()
            nats.remove()
    else:
        print(f"ingest   skipped: no Cranfield data at {CRANFIELD}", flush=True)

    if "replica" in parts:
        figures.update(await replica_searches(400 if args.quick else 2000, 2000))
        print(
            f"replica  primary {figures['primary_searches_per_s']:.1f} searches/s  |  replica "
            f"{figures['replica_searches_per_s']:.1f} searches/s"
            f" ({figures['replica_reads']:.0f} served by it)",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
