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

Usage: ``python benchmarks/retrieval_eval.py [--quick] [--data DIR]``. The last line printed
is one JSON object.
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

from motadata_ai.adapters.memory.cache import InMemoryCache  # noqa: E402
from motadata_ai.adapters.memory.llm import FunctionLLM  # noqa: E402
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore  # noqa: E402
from motadata_ai.adapters.postgres.database import PostgresDatabase  # noqa: E402
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore  # noqa: E402
from motadata_ai.adapters.postgres.embedded import start_embedded_postgres  # noqa: E402
from motadata_ai.adapters.postgres.vector_store import PgVectorStore  # noqa: E402
from motadata_ai.adapters.tokenizer import default_tokenizer  # noqa: E402
from motadata_ai.domain.gateway.config import GatewayConfig  # noqa: E402
from motadata_ai.domain.gateway.service import Gateway  # noqa: E402
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem  # noqa: E402
from motadata_ai.domain.retrieval.scoring import relevance  # noqa: E402
from motadata_ai.domain.values.documents import Document  # noqa: E402
from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse, Usage  # noqa: E402
from motadata_ai.domain.values.tenancy import TenantContext  # noqa: E402
from motadata_ai.ports.embedding import EmbeddingPort  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cranfield"
TENANT = "cranfield"
EMBEDDING_MODEL = "local/all-minilm-l6-v2"


class MiniLMEmbeddings(EmbeddingPort):
    """The local MiniLM model as an EmbeddingPort (what the local provider serves, without LiteLLM)."""

    def __init__(self) -> None:
        from motadata_ai.adapters.local.minilm import shared_embedder

        self._model = shared_embedder()

    def dimensions(self, model: str) -> int | None:
        return 384

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        vectors = await self._model.aembed(list(request.inputs))
        words = sum(len(text.split()) for text in request.inputs)
        return EmbeddingResponse(
            model=request.model, vectors=tuple(tuple(v) for v in vectors), usage=Usage(input_tokens=words)
        )


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
    database = await PostgresDatabase.connect(server.dsn, min_size=1, max_size=4)
    try:
        tokenizer = default_tokenizer()
        gateway = Gateway(
            llm=FunctionLLM(lambda request: "unused"),
            embeddings=MiniLMEmbeddings(),
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
            f"({report.chunks / ingest_s:.0f} chunks/s incl. MiniLM embedding); "
            f"{len(numbered)} queries ({len(tuning)} tuning / {len(testing)} test)",
            file=sys.stderr,
        )

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
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
