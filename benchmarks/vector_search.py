"""Tenant-filtered top-10 vector search on PgVectorStore against the in-memory baseline.

Synthetic clustered 384-d vectors (default 100,000 over 10 tenants), written through the store's
binary-COPY path, then: index build time (promotion of each tenant to its own HNSW partition),
recall@10 of ``dense_search`` against exact search computed in the same run (per tenant, worst
tenant reported too), p50/p95 latency at concurrency 1, queries/s at concurrency 1 and 16, and the
same figures for InMemoryVectorStore (exact) as the baseline.

    python benchmarks/vector_search.py            # full: 100,000 vectors
    python benchmarks/vector_search.py --quick    # < 60 s
    python benchmarks/vector_search.py --sweep 40,64,200 --recall-target 0   # recall/latency per ef_search
    python benchmarks/vector_search.py --growth   # growth curve: 10K and 100K vectors, 1,000 tenants
    python benchmarks/vector_search.py --growth --full   # ... and 1M vectors
    python benchmarks/vector_search.py --growth --full --shared-buffers 6GB --growth-ef-rows 25000,12500

The growth curve (``--growth``) loads, per step, a fresh table with 10,000, 100,000 (and with
``--full`` 1,000,000) vectors spread over 1,000 tenants whose sizes follow a Zipf law (a few
large tenants, a long tail of small ones), with the store's default layout (tenants from
``exact_search_below`` rows up get their own HNSW partition), and reports per step: ingest
rate, index build time, disk size, recall@10 (mean over the queries, and the worst tenant's),
and p95 latency and QPS at concurrency 16. Queries go to every HNSW-indexed tenant and to a
sample of the others. ``--growth-ef-rows`` searches each step's indexes again with ``ef_search``
widened from other index sizes (the store's ``ef_search_rows``), and ``--shared-buffers`` restarts
the embedded server with that ``shared_buffers`` before loading.

Uses the server at ``--dsn`` / ``MOTADATA_BENCH_POSTGRES_DSN`` when given, else starts an embedded
PostgreSQL in a temporary directory. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import numpy as np

from motadata_ai.adapters.defaults import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, RECALL_TARGET
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.embedded import start_embedded_postgres
from motadata_ai.adapters.postgres.search_settings import search_session_settings
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.vector_store import VectorStorePort

TOP_K = 10


def make_data(
    n_vectors: int, tenants: int, dims: int, clusters: int, noise: float, queries: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Unit vectors drawn around ``clusters`` random centres that every tenant shares (tenants of
    one domain write about the same topics, so their vectors interleave), plus query vectors."""
    rng = np.random.default_rng(seed)
    per_tenant = n_vectors // tenants
    data, qs = {}, {}
    centres = rng.standard_normal((clusters, dims)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    sigma = noise / np.sqrt(dims)
    for t in range(tenants):

        def sample(n: int) -> np.ndarray:
            picks = rng.integers(0, clusters, n)
            points = centres[picks] + rng.standard_normal((n, dims)).astype(np.float32) * sigma
            return points / np.linalg.norm(points, axis=1, keepdims=True)

        data[f"tenant-{t:02d}"] = sample(per_tenant)
        qs[f"tenant-{t:02d}"] = sample(queries)
    return data, qs


def exact_top_k(vectors: np.ndarray, query: np.ndarray, k: int) -> set[int]:
    """Indices of the k nearest vectors by cosine (vectors are unit length)."""
    scores = vectors @ (query / np.linalg.norm(query))
    return {int(i) for i in np.argpartition(-scores, k)[:k]}


def records_for(tenant: str, vectors: np.ndarray) -> list[VectorRecord]:
    """Records with trusted fields (built without validation, as a loader with known-good data would)."""
    return [
        VectorRecord.model_construct(
            id=f"{tenant}-{i}",
            tenant_id=tenant,
            document_id=f"doc-{i // 20}",
            version=1,
            chunk_index=i % 20,
            text=f"chunk {i} of document {i // 20} for {tenant}",
            embedding=tuple(v.tolist()),
            metadata={"doc": i // 20},
        )
        for i, v in enumerate(vectors)
    ]


async def ingest(
    store: VectorStorePort, records: dict[str, list[VectorRecord]], batch: int, writers: int = 1
) -> float:
    """Write every record in batches with ``writers`` concurrent writers; return vectors per second."""
    total = sum(len(r) for r in records.values())
    batches = [
        (TenantContext(tenant_id=tenant), recs[i : i + batch])
        for tenant, recs in records.items()
        for i in range(0, len(recs), batch)
    ]
    cursor = iter(batches)

    async def writer() -> None:
        for ctx, chunk in cursor:
            await store.upsert(ctx, chunk)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return total / (time.perf_counter() - started)


async def bench_server(args: argparse.Namespace) -> tuple[str, Any, str | None]:
    """The DSN to measure on, the embedded server started for it (or ``None``) and its folder.

    ``--dsn`` / ``MOTADATA_BENCH_POSTGRES_DSN`` when given (that server as its operator set it up);
    else an embedded PostgreSQL in a temporary folder, restarted once with ``shared_buffers`` set
    when ``--shared-buffers`` is given (PostgreSQL's default is 128 MB).
    """
    dsn = args.dsn or os.environ.get("MOTADATA_BENCH_POSTGRES_DSN")
    if dsn:
        return dsn, None, None
    workdir = tempfile.mkdtemp(prefix="motadata-bench-pg-")
    folder = os.path.join(workdir, "pgdata")
    server = start_embedded_postgres(folder)
    if args.shared_buffers:
        await fetch_once(server.dsn, f"ALTER SYSTEM SET shared_buffers = '{args.shared_buffers}'")
        server.stop()
        server = start_embedded_postgres(folder)
    print(f"embedded PostgreSQL: shared_buffers {await fetch_once(server.dsn, 'SHOW shared_buffers')}")
    return server.dsn, server, workdir


async def fetch_once(dsn: str, sql: str) -> Any:
    """``sql``'s first value, on a connection of its own (closed after)."""
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def run_queries(
    search: Callable[[TenantContext, np.ndarray], Awaitable[list[Any]]],
    work: Sequence[tuple[str, np.ndarray]],
    concurrency: int,
) -> tuple[list[float], float, list[list[Any]]]:
    """Run every (tenant, query) with ``concurrency`` workers; latencies (ms), QPS and results."""
    latencies: list[float] = [0.0] * len(work)
    results: list[list[Any]] = [[] for _ in work]
    cursor = iter(range(len(work)))

    async def worker() -> None:
        for i in cursor:
            tenant, query = work[i]
            t0 = time.perf_counter()
            results[i] = await search(TenantContext(tenant_id=tenant), query)
            latencies[i] = (time.perf_counter() - t0) * 1000

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, len(work) / (time.perf_counter() - started), results


def per_query_recall(
    results: list[list[Any]], work: Sequence[tuple[str, np.ndarray]], truth: list[set[int]]
) -> list[tuple[str, float]]:
    """Each query's tenant and recall@10 against its exact top 10."""
    found = []
    for hits, (tenant, _), expected in zip(results, work, truth, strict=True):
        got = {int(h.record.id.rsplit("-", 1)[1]) for h in hits}
        found.append((tenant, len(got & expected) / len(expected)))
    return found


def recall_figures(found: list[tuple[str, float]], data: dict[str, np.ndarray]) -> dict[str, Any]:
    """Mean recall@10, the worst tenant's mean and size, and the queries that found under half
    of their neighbours (a search the graph routes away from its neighbours' region finds few or
    none of them, where a merely narrow one misses one or two)."""
    per_tenant: dict[str, list[float]] = {}
    for tenant, value in found:
        per_tenant.setdefault(tenant, []).append(value)
    means = {t: statistics.fmean(v) for t, v in per_tenant.items()}
    worst = min(means, key=lambda t: means[t])
    return {
        "recall10": round(statistics.fmean(value for _, value in found), 4),
        "recall10_worst_tenant": round(means[worst], 4),
        "worst_tenant_size": len(data[worst]),
        "queries_under_half": sum(1 for _, value in found if value < 0.5),
    }


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    name: str,
    search: Callable[[TenantContext, np.ndarray], Awaitable[list[Any]]],
    work: list[tuple[str, np.ndarray]],
    truth: list[set[int]],
    data: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Latency at concurrency 1, QPS at 1 and 16, recall per tenant; printed and returned."""
    # warm caches and open the pool's connections (a steady-state service has them open)
    await run_queries(search, work[: min(len(work), 64)], 16)
    lat, qps1, results = await run_queries(search, work, 1)
    lat16, qps16, _ = await run_queries(search, work, 16)
    figures = {
        **recall_figures(per_query_recall(results, work, truth), data),
        "p50_ms": round(pct(lat, 0.5), 2),
        "p95_ms": round(pct(lat, 0.95), 2),
        "p95_ms_c16": round(pct(lat16, 0.95), 2),
        "qps_c1": round(qps1, 1),
        "qps_c16": round(qps16, 1),
    }
    print(
        f"{name:<28} recall@10 {figures['recall10']:.4f} "
        f"(worst tenant {figures['recall10_worst_tenant']:.4f}; "
        f"{figures['queries_under_half']} queries under half)  "
        f"p50 {figures['p50_ms']:.2f} ms  p95 {figures['p95_ms']:.2f} ms  "
        f"QPS c1 {figures['qps_c1']:.0f}  c16 {figures['qps_c16']:.0f} (p95 {figures['p95_ms_c16']:.1f} ms)",
        flush=True,
    )
    return figures


async def shared_index_layout(
    database: PostgresDatabase,
    data: dict[str, np.ndarray],
    work: list[tuple[str, np.ndarray]],
    truth: list[set[int]],
    args: argparse.Namespace,
    ef_values: list[int],
) -> dict[int, dict[str, Any]]:
    """The layout PgVectorStore avoids: one HNSW index over all tenants, filtered by tenant."""
    table = f"bench_shared_hnsw_{os.getpid()}"
    async with database.pool.acquire() as conn:
        await conn.execute(
            f"CREATE TABLE {table} (tenant_id text, id integer, embedding vector({args.dims}))"
        )
        for tenant, vectors in data.items():
            await conn.copy_records_to_table(
                table,
                records=[(tenant, i, v) for i, v in enumerate(vectors)],
                columns=["tenant_id", "id", "embedding"],
            )
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute(
            f"CREATE INDEX ON {table} USING hnsw (embedding vector_cosine_ops) "
            f"WITH (m = {args.m}, ef_construction = {args.ef_construction})"
        )
        await conn.execute(f"CREATE INDEX ON {table} (tenant_id)")
        await conn.execute(f"VACUUM ANALYZE {table}")
        print(f"shared HNSW index build: {time.perf_counter() - started:.1f} s", flush=True)
    results = {}
    try:
        for ef in ef_values:

            async def search(tenant: TenantContext, q: np.ndarray, ef: int = ef) -> list[Any]:
                async with database.pool.acquire() as conn:
                    await conn.execute(f"SET hnsw.ef_search = {ef}; SET hnsw.iterative_scan = relaxed_order")
                    rows = await conn.fetch(
                        f"SELECT id FROM {table} WHERE tenant_id = $1 "
                        f"ORDER BY embedding <=> $2 LIMIT {TOP_K}",
                        tenant.tenant_id,
                        q,
                    )
                return [_Hit(f"{tenant.tenant_id}-{r['id']}") for r in rows]

            results[ef] = await measure(f"one shared HNSW, ef={ef}", search, work, truth, data)
    finally:
        async with database.pool.acquire() as conn:
            await conn.execute(f"DROP TABLE {table}")
    return results


class _Hit:
    """A search result carrying only the record id (for recall)."""

    def __init__(self, rid: str) -> None:
        self.record = self
        self.id = rid


async def main(args: argparse.Namespace) -> dict[str, Any]:
    n_vectors = args.vectors or (10_000 if args.quick else 100_000)
    queries = args.queries or (20 if args.quick else 50)
    exact_below = args.exact_below or (500 if args.quick else 10_000)
    print(
        f"vectors {n_vectors}, tenants {args.tenants}, dims {args.dims}, clusters/tenant {args.clusters}, "
        f"noise {args.noise}, queries/tenant {queries}, m {args.m}, ef_construction {args.ef_construction}, "
        f"ef_search {args.ef_search}, storage {args.storage}, exact_search_below {exact_below}, "
        f"recall check target {args.recall_target or 'off'}",
        flush=True,
    )
    data, qs = make_data(n_vectors, args.tenants, args.dims, args.clusters, args.noise, queries, args.seed)
    work = [(t, q) for t in qs for q in qs[t]]
    truth = [exact_top_k(data[t], q, TOP_K) for t, q in work]
    records = {t: records_for(t, v) for t, v in data.items()}

    dsn, server, workdir = await bench_server(args)
    # opened as the SDK's container opens it: the search settings are the connections' defaults
    database = await PostgresDatabase.connect(
        dsn, min_size=2, max_size=17, server_settings=search_session_settings(ef_search=args.ef_search)
    )
    table = f"bench_chunks_{os.getpid()}"
    try:
        store = PgVectorStore(
            database,
            dimensions=args.dims,
            m=args.m,
            ef_construction=args.ef_construction,
            ef_search=args.ef_search,
            storage=args.storage,
            table=table,
            exact_search_below=exact_below,
            auto_promote=False,
            recall_target=args.recall_target or None,
        )
        await store.setup()
        ingest_rate = await ingest(store, records, args.batch, args.writers)
        print(f"PgVectorStore ingest (binary COPY + upsert): {ingest_rate:,.0f} vectors/s", flush=True)
        started = time.perf_counter()
        promoted = await store.reorganize()
        build_s = time.perf_counter() - started
        async with database.pool.acquire() as conn:  # settle the moved rows before timing queries
            await conn.execute(f"VACUUM ANALYZE {table}")
            try:  # flush the load's dirty pages now rather than during the timed queries
                await conn.execute("CHECKPOINT")
            except Exception as exc:  # needs superuser or pg_checkpoint on a shared server
                print(f"(no CHECKPOINT: {exc})", flush=True)
        print(
            f"PgVectorStore index build: {build_s:.1f} s for {len(promoted)} tenant partitions "
            f"({n_vectors / build_s:,.0f} vectors/s)",
            flush=True,
        )
        if args.incremental:
            extra = make_data(args.tenants * 200, args.tenants, args.dims, args.clusters, args.noise, 1, 99)[
                0
            ]
            more = {
                t: [r.model_copy(update={"id": f"x{r.id}"}) for r in records_for(t, v)]
                for t, v in extra.items()
            }
            rate = await ingest(store, more, args.batch, args.writers)
            print(f"PgVectorStore ingest into HNSW-indexed partitions: {rate:,.0f} vectors/s", flush=True)
            for t, v in extra.items():  # keep the ground truth right: drop them again
                await store.delete(TenantContext(tenant_id=t), ids=[f"x{t}-{i}" for i in range(len(v))])

        async def pg_search(tenant: TenantContext, q: np.ndarray) -> list[Any]:
            return await store.dense_search(tenant, q.tolist(), top_k=TOP_K)

        async def pg_exact(tenant: TenantContext, q: np.ndarray) -> list[Any]:
            return await store.exact_search(tenant, q.tolist(), top_k=TOP_K)

        pg = await measure("PgVectorStore HNSW", pg_search, work, truth, data)
        sample = work[:: max(1, len(work) // 100)]
        sample_truth = truth[:: max(1, len(work) // 100)]
        exact = await measure("PgVectorStore exact scan", pg_exact, sample, sample_truth, data)
        sweep = {}
        for ef in [int(x) for x in args.sweep.split(",") if x.strip()]:
            store.ef_search = ef
            sweep[ef] = await measure(f"PgVectorStore ef_search={ef}", pg_search, work, truth, data)
        store.ef_search = args.ef_search
        shared = {}
        if args.compare_shared:
            shared = await shared_index_layout(
                database, data, work, truth, args, sorted({40, args.ef_search, *sweep})
            )
    finally:
        async with database.pool.acquire() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
            for suffix in ("_tenants", "_kw_stats", "_kw_terms", "_kw_postings"):
                await conn.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
            await conn.execute("DELETE FROM schema_migrations WHERE component = $1", f"vectors.{table}")
        await database.close()
        if server is not None:
            server.stop()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    memory = InMemoryVectorStore(dimensions=args.dims)
    memory_ingest = await ingest(memory, records, args.batch)
    print(f"InMemoryVectorStore ingest: {memory_ingest:,.0f} vectors/s", flush=True)

    async def memory_search(tenant: TenantContext, q: np.ndarray) -> list[Any]:
        return await memory.dense_search(tenant, q.tolist(), top_k=TOP_K)

    baseline = await measure("InMemoryVectorStore (exact)", memory_search, work, truth, data)
    return {
        "n_vectors": n_vectors,
        "tenants": args.tenants,
        "recall10": pg["recall10"],
        "recall10_worst_tenant": pg["recall10_worst_tenant"],
        "queries_under_half": pg["queries_under_half"],
        "p50_ms": pg["p50_ms"],
        "p95_ms": pg["p95_ms"],
        "qps_c1": pg["qps_c1"],
        "qps_c16": pg["qps_c16"],
        "ingest_vectors_per_s": round(ingest_rate),
        "index_build_s": round(build_s, 2),
        "exact_scan_p95_ms": exact["p95_ms"],
        "ef_search": args.ef_search,
        "sweep": {
            str(k): {
                "recall10": v["recall10"],
                "queries_under_half": v["queries_under_half"],
                "p95_ms": v["p95_ms"],
                "qps_c16": v["qps_c16"],
            }
            for k, v in sweep.items()
        },
        "shared_hnsw": {
            str(k): {
                "recall10": v["recall10"],
                "recall10_worst_tenant": v["recall10_worst_tenant"],
                "p95_ms": v["p95_ms"],
            }
            for k, v in shared.items()
        },
        "baseline_memory": {
            "recall10": baseline["recall10"],
            "p95_ms": baseline["p95_ms"],
            "qps_c16": baseline["qps_c16"],
            "ingest_vectors_per_s": round(memory_ingest),
        },
    }


# -- growth curve -----------------------------------------------------------------------------------


def zipf_sizes(n_vectors: int, tenants: int, exponent: float) -> list[int]:
    """Tenant sizes proportional to 1/rank**exponent, each at least 1, summing to ``n_vectors``."""
    if n_vectors < tenants:
        raise ValueError(f"{n_vectors:,} vectors cannot give each of {tenants:,} tenants one")
    weights = 1.0 / np.arange(1, tenants + 1, dtype=np.float64) ** exponent
    sizes = np.maximum(1, np.floor(weights / weights.sum() * n_vectors)).astype(int)
    if sizes.sum() > n_vectors:  # the tail lifted to 1 row each: shrink the rest to make room
        extra = sizes - 1
        sizes = 1 + np.floor(extra * ((n_vectors - tenants) / extra.sum())).astype(int)
    sizes[0] += n_vectors - int(sizes.sum())  # rounding remainder to the largest tenant
    return [int(x) for x in sizes]


async def growth_queries(
    search: Callable[[TenantContext, np.ndarray], Awaitable[list[Any]]],
    work: list[tuple[str, np.ndarray]],
    truth: list[set[int]],
    data: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One pass of a growth step's queries at concurrency 16: recall@10 and its worst tenant, p95, QPS."""
    latencies, qps16, results = await run_queries(search, work, 16)
    return {
        **recall_figures(per_query_recall(results, work, truth), data),
        "p95_ms_c16": round(pct(latencies, 0.95), 2),
        "qps_c16": round(qps16, 1),
    }


def growth_line(figures: dict[str, Any]) -> str:
    """The query figures of :func:`growth_queries` as one line."""
    return (
        f"recall@10 {figures['recall10']:.4f} (worst tenant {figures['recall10_worst_tenant']:.4f}, "
        f"{figures['worst_tenant_size']:,} vectors; {figures['queries_under_half']} queries found under "
        f"half), c16 p95 {figures['p95_ms_c16']:.1f} ms, "
        f"{figures['qps_c16']:.0f} QPS"
    )


async def growth_step(database: PostgresDatabase, n_vectors: int, args: argparse.Namespace) -> dict[str, Any]:
    """Load one step of the growth curve into a fresh table and measure it."""
    rng = np.random.default_rng(args.seed + n_vectors)
    sizes = zipf_sizes(n_vectors, args.growth_tenants, args.zipf)
    centres = rng.standard_normal((args.clusters, args.dims)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    sigma = args.noise / np.sqrt(args.dims)

    def sample(n: int) -> np.ndarray:
        points = centres[rng.integers(0, args.clusters, n)]
        points = points + rng.standard_normal((n, args.dims)).astype(np.float32) * sigma
        return points / np.linalg.norm(points, axis=1, keepdims=True)

    data = {f"t{t:04d}": sample(size) for t, size in enumerate(sizes)}
    table = f"bench_growth_{n_vectors}_{os.getpid()}"
    store = PgVectorStore(
        database,
        dimensions=args.dims,
        m=args.m,
        ef_construction=args.ef_construction,
        ef_search=args.ef_search,
        storage=args.storage,
        table=table,
        auto_promote=False,
        recall_target=args.recall_target or None,
    )
    await store.setup()
    try:
        # records are built per batch, so a million of them never sit in memory at once
        batches = [(tenant, start) for tenant, v in data.items() for start in range(0, len(v), args.batch)]
        cursor = iter(batches)

        async def writer() -> None:
            for tenant, start in cursor:
                chunk = records_for(tenant, data[tenant][start : start + args.batch])
                if start:
                    chunk = [
                        r.model_copy(update={"id": f"{tenant}-{start + i}"}) for i, r in enumerate(chunk)
                    ]
                await store.upsert(TenantContext(tenant_id=tenant), chunk)

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(args.writers)))
        ingest_rate = n_vectors / (time.perf_counter() - started)
        started = time.perf_counter()
        promoted = await store.reorganize()
        build_s = time.perf_counter() - started
        async with database.pool.acquire() as conn:
            await conn.execute(f"VACUUM ANALYZE {table}")
            disk = await conn.fetchval(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "WHERE c.relkind IN ('r', 'p') AND c.relname LIKE $1",
                f"{table}%",
            )
        indexed = set(promoted)
        started = time.perf_counter()  # the build ran each check once; run and timed again here
        checks = [await store.check_recall(t) for t in sorted(indexed)]
        check_s = time.perf_counter() - started
        others = [t for t in data if t not in indexed]
        picks = sorted(indexed) + [
            str(t) for t in rng.choice(others, size=min(len(others), args.growth_sample), replace=False)
        ]
        work = [(t, q) for t in picks for q in sample(args.growth_queries)]
        truth = []
        for tenant, query in work:
            scores = data[tenant] @ query
            k = min(TOP_K, len(scores))
            truth.append({int(i) for i in np.argsort(-scores, kind="stable")[:k]})

        async def search(tenant: TenantContext, q: np.ndarray) -> list[Any]:
            return await store.dense_search(tenant, q.tolist(), top_k=TOP_K)

        await run_queries(search, work[: min(len(work), 64)], 16)  # warm up, open connections
        figures = {
            "vectors": n_vectors,
            "tenants": len(sizes),
            "largest_tenant": sizes[0],
            "hnsw_tenants": len(indexed),
            "ingest_vectors_per_s": round(ingest_rate),
            "index_build_s": round(build_s, 2),
            "disk_mb": round(int(disk or 0) / 2**20, 1),
            "queries": len(work),
            "recall_target": args.recall_target,
            "checked_ef_search": sorted(c.ef_search for c in checks if c is not None),
            "checked_recall_min": min((c.recall for c in checks if c is not None), default=None),
            "recall_check_s": round(check_s, 2),
        }
        figures.update(await growth_queries(search, work, truth, data))
        print(
            f"{n_vectors:>9,} vectors: ingest {figures['ingest_vectors_per_s']:,}/s, index build "
            f"{build_s:.1f} s ({len(indexed)} HNSW tenants, largest {sizes[0]:,}), disk "
            f"{figures['disk_mb']:.0f} MB; {len(work)} queries: {growth_line(figures)}; the indexes' "
            f"recall check (target {args.recall_target}): ef_search {figures['checked_ef_search']}, "
            f"lowest checked recall {figures['checked_recall_min']}, the checks again {check_s:.1f} s",
            flush=True,
        )
        ef_rows = [int(x) for x in args.growth_ef_rows.split(",") if x.strip()]
        if ef_rows:
            figures["by_ef_search_rows"] = {}
        for rows in ef_rows:  # the same indexes searched with ef_search widened from other sizes
            store.ef_search_rows = rows
            widest = max((store.ef_search_for(t) for t in indexed), default=args.ef_search)
            step = await growth_queries(search, work, truth, data)
            figures["by_ef_search_rows"][rows] = {**step, "largest_tenant_ef_search": widest}
            print(f"  ef_search_rows {rows:,} (largest tenant's ef_search {widest}): {growth_line(step)}")
        return figures
    finally:
        async with database.pool.acquire() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
            for suffix in ("_tenants", "_kw_stats", "_kw_terms", "_kw_postings"):
                await conn.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
            await conn.execute(f"DROP FUNCTION IF EXISTS {table}_search_text(text)")
            await conn.execute("DELETE FROM schema_migrations WHERE component = $1", f"vectors.{table}")


async def growth(args: argparse.Namespace) -> dict[str, Any]:
    """The growth curve: one :func:`growth_step` per size (see the module docstring)."""
    steps = [int(x) for x in args.growth_steps.split(",") if x.strip()] + ([1_000_000] if args.full else [])
    print(
        f"growth curve: {steps} vectors over {args.growth_tenants} tenants (Zipf exponent {args.zipf}), "
        f"dims {args.dims}, m {args.m}, ef_construction {args.ef_construction}, ef_search {args.ef_search}, "
        f"exact_search_below 10000 (default); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    dsn, server, workdir = await bench_server(args)
    # opened as the SDK's container opens it: the search settings are the connections' defaults
    database = await PostgresDatabase.connect(
        dsn, min_size=2, max_size=17, server_settings=search_session_settings(ef_search=args.ef_search)
    )
    try:
        curve = [await growth_step(database, n, args) for n in steps]
    finally:
        await database.close()
        if server is not None:
            server.stop()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return {"growth": curve, "load_average_end": round(os.getloadavg()[0], 1)}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 vectors, 20 queries/tenant (< 60 s)")
    parser.add_argument("--vectors", type=int, default=0, help="total (default 100,000; quick 10,000)")
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=50, help="clusters per tenant")
    parser.add_argument("--noise", type=float, default=0.6, help="noise norm relative to the unit centres")
    parser.add_argument("--queries", type=int, default=0, help="queries per tenant (default 50; quick 20)")
    parser.add_argument("--m", type=int, default=HNSW_M)
    parser.add_argument("--ef-construction", type=int, default=HNSW_EF_CONSTRUCTION)
    parser.add_argument("--ef-search", type=int, default=HNSW_EF_SEARCH)
    parser.add_argument("--storage", choices=["vector", "halfvec"], default="vector")
    parser.add_argument(
        "--exact-below", type=int, default=0, help="promotion threshold (default 10,000; quick 500)"
    )
    parser.add_argument("--batch", type=int, default=2000, help="records per upsert")
    parser.add_argument("--writers", type=int, default=2, help="concurrent upsert calls while ingesting")
    parser.add_argument(
        "--sweep",
        default="",
        help="comma-separated ef_search values to measure too (with --recall-target 0: an index's "
        "recall check keeps its tenant at least at the breadth it chose)",
    )
    parser.add_argument("--incremental", action="store_true", help="also time writes into indexed partitions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--compare-shared", action="store_true", help="also measure one shared HNSW index filtered by tenant"
    )
    parser.add_argument("--dsn", default="", help="PostgreSQL DSN (default: embedded server in a temp dir)")
    parser.add_argument(
        "--shared-buffers", default="", help="the embedded server's shared_buffers, e.g. 6GB (default: 128MB)"
    )
    parser.add_argument(
        "--growth", action="store_true", help="growth curve: 10K and 100K vectors, 1,000 tenants"
    )
    parser.add_argument("--full", action="store_true", help="with --growth: also the 1M-vector step")
    parser.add_argument("--growth-steps", default="10000,100000", help="vector counts of the curve's steps")
    parser.add_argument("--growth-tenants", type=int, default=1000)
    parser.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent of the tenant sizes")
    parser.add_argument("--growth-sample", type=int, default=50, help="non-HNSW tenants queried per step")
    parser.add_argument("--growth-queries", type=int, default=30, help="queries per queried tenant")
    parser.add_argument(
        "--growth-ef-rows",
        default="",
        help="comma-separated ef_search_rows values to search each step's indexes with too",
    )
    parser.add_argument(
        "--recall-target",
        type=float,
        default=RECALL_TARGET,
        help="the index recall check (PgVectorStore's recall_target; 0: off)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse(sys.argv[1:])
    result = asyncio.run(growth(options) if options.growth else main(options))
    print(json.dumps(result))
