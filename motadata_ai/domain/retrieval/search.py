"""Search: a (rewritten) question → the ``top_k`` best chunks, with what finding them spent.

One search runs these steps, each a small function or method:

1. :meth:`Search.embed_query` — the dense query's embedding (dense and hybrid modes);
2. :meth:`Search.dense` and :meth:`Search.keyword` — the two retrievers, each fetching a
   candidate pool (in hybrid mode they run together with ``asyncio.gather``);
3. :func:`merge_hits` — one :class:`Candidate` per chunk with its dense and keyword scores and
   ranks;
4. :func:`apply_threshold` — the similarity threshold (a top-``k`` keyword hit survives it in
   hybrid mode);
5. :func:`fuse` — reciprocal rank fusion of the two rankings (hybrid mode); only the leading
   candidates that a later step can still return become sources (:func:`sources_needed`);
6. :meth:`Search.guard` — the input guardrails over the passages before any model sees them
   (before an LLM re-ranker, else at the end);
7. :meth:`Search.rerank` — the optional re-ranker over the leading candidates;
8. :func:`diversify` — optional maximal marginal relevance.

Every step that calls a model returns its :class:`~motadata_ai.domain.retrieval.usage.ModelUsage`
with its result, and :class:`SearchResult` carries their sum.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.retrieval.fusion import reciprocal_rank_fusion
from motadata_ai.domain.retrieval.gateway import GatewayLike
from motadata_ai.domain.retrieval.mmr import maximal_marginal_relevance
from motadata_ai.domain.retrieval.reranking import LLMReranker, Reranker, rerank_counted
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter, LLMQueryRewriter, RewrittenQuery
from motadata_ai.domain.retrieval.scoring import cosine, passes_threshold
from motadata_ai.domain.retrieval.usage import NO_USAGE, ModelUsage
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import MetadataFilter, SearchHit, VectorRecord
from motadata_ai.ports.vector_store import VectorStorePort

SearchMode = Literal["dense", "keyword", "hybrid"]
SEARCH_MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
Vector = tuple[float, ...]


@dataclass(frozen=True)
class SearchResult:
    """The best sources (best first), what the search's own model calls spent, the flagged chunk ids."""

    sources: list[Source]
    usage: ModelUsage
    flagged: frozenset[str] = frozenset()


@dataclass(slots=True)
class Candidate:
    """A chunk one of the retrievers found, with the scores and ranks each gave it.

    Merging, the threshold and fusion work on candidates; only the ones a search can return
    become :class:`Source` objects (a hybrid search of ``top_k`` 10 merges about 50 candidates, and
    building, then copying, a source for each took about 1 ms of its time).
    """

    record: VectorRecord
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    keyword_score: float | None = None
    keyword_rank: int | None = None

    def source(self) -> Source:
        """The candidate as a source, with its scores."""
        return to_source(
            self.record,
            score=self.score,
            dense_score=self.dense_score,
            dense_rank=self.dense_rank,
            keyword_score=self.keyword_score,
            keyword_rank=self.keyword_rank,
        )


def sources_needed(config: RAGConfig, top_k: int, ranked: int) -> int:
    """How many of ``ranked`` fused candidates a search of ``top_k`` turns into sources: every one
    for MMR (it chooses among them all), else the ``top_k`` and the re-ranker's candidates."""
    if config.use_mmr:
        return ranked
    return max(top_k, config.rerank_candidates) if config.enable_reranking else top_k


class Search:
    """Runs one tenant's searches (see the module doc)."""

    def __init__(
        self,
        *,
        gateway: GatewayLike,
        vector_store: VectorStorePort,
        tenant: TenantContext,
        config: RAGConfig,
        rewriter: KeywordQueryRewriter | LLMQueryRewriter,
        reranker: Reranker,
        embedding_model: str,
        llm_model: str,
    ) -> None:
        self._gateway = gateway
        self._vectors = vector_store
        self.tenant = tenant
        self.config = config
        self.rewriter = rewriter
        self.reranker = reranker
        self.embedding_model = embedding_model
        self.llm_model = llm_model

    async def rewrite(self, question: str, history: Sequence[str]) -> RewrittenQuery:
        """The queries to search with (the question itself when rewriting is off); usage included."""
        if not self.config.enable_query_rewriting:
            return RewrittenQuery(original=question, dense=question, keyword=question)
        return await self.rewriter.rewrite(question, history, tenant=self.tenant)

    async def run(
        self,
        query: RewrittenQuery,
        *,
        top_k: int,
        mode: SearchMode,
        filters: MetadataFilter | None,
        guard: bool = False,
    ) -> SearchResult:
        """The ``top_k`` best sources for ``query`` (the rewrite's usage is not included).

        With ``guard`` the sources pass :meth:`guard` before any model sees them (before an LLM
        re-ranker, else at the end).
        """
        config = self.config
        pool = config.candidates_for(top_k, mode)
        async def embedded_dense() -> tuple[Vector | None, ModelUsage, list[SearchHit]]:
            vector, usage = await self.embed_query(query, mode)
            if vector is None:
                return None, usage, []
            return vector, usage, await self.dense(vector, pool, filters)

        if mode == "keyword":
            (vector, usage, dense_hits), keyword_hits = await embedded_dense(), await self.keyword(
                query, pool, filters
            )
        elif mode == "dense":
            (vector, usage, dense_hits), keyword_hits = await embedded_dense(), []
        else:  # the keyword search needs no embedding: it runs (on its own pooled connection)
            # while the query is embedded and the dense search runs on another
            (vector, usage, dense_hits), keyword_hits = await asyncio.gather(
                embedded_dense(), self.keyword(query, pool, filters)
            )
        candidates = merge_hits(dense_hits, keyword_hits, vector)
        candidates = apply_threshold(
            candidates, mode=mode, top_k=top_k, threshold=config.similarity_threshold
        )
        fused = fuse(candidates, dense_hits, keyword_hits, mode=mode, config=config)
        ranked = [c.source() for c in fused[: sources_needed(config, top_k, len(fused))]]
        flagged: frozenset[str] = frozenset()
        guard_early = guard and config.enable_reranking and isinstance(self.reranker, LLMReranker)
        if guard_early:
            ranked, flagged = await self.guard(ranked)
        if config.enable_reranking and ranked:
            ranked, spent = await self.rerank(query, ranked)
            usage = usage + spent
        if config.use_mmr and len(ranked) > top_k:
            vectors = {hit.record.id: hit.record.embedding for hit in [*dense_hits, *keyword_hits]}
            ranked = diversify(ranked, vectors, top_k=top_k, lambda_mult=config.mmr_lambda)
        if guard and not guard_early:
            ranked, flagged = await self.guard(ranked[:top_k])
        return SearchResult(sources=ranked[:top_k], usage=usage, flagged=flagged)

    async def embed_query(self, query: RewrittenQuery, mode: SearchMode) -> tuple[Vector | None, ModelUsage]:
        """The dense query's embedding (``None`` in keyword mode) and what the call spent."""
        if mode == "keyword":
            return None, NO_USAGE
        response = await self._gateway.embed(
            [query.dense], tenant_id=self.tenant, model=self.embedding_model, purpose="query_embedding"
        )
        return response.vectors[0], ModelUsage.of_embedding(response)

    async def dense(self, vector: Vector, pool: int, filters: MetadataFilter | None) -> list[SearchHit]:
        """The ``pool`` nearest chunks to ``vector``."""
        return await self._vectors.dense_search(self.tenant, vector, top_k=pool, filters=filters)

    async def keyword(
        self, query: RewrittenQuery, pool: int, filters: MetadataFilter | None
    ) -> list[SearchHit]:
        """The ``pool`` best full-text matches of the keyword query."""
        return await self._vectors.keyword_search(self.tenant, query.keyword, top_k=pool, filters=filters)

    async def rerank(self, query: RewrittenQuery, ranked: list[Source]) -> tuple[list[Source], ModelUsage]:
        """The leading ``rerank_candidates`` re-ordered by the re-ranker (the rest follow as they were)."""
        limit = self.config.rerank_candidates
        head, spent = await rerank_counted(self.reranker, query.dense, ranked[:limit], tenant=self.tenant)
        return head + ranked[limit:], spent

    async def guard(self, sources: Sequence[Source]) -> tuple[list[Source], frozenset[str]]:
        """Sources as a prompt may quote them: PII redacted, injection-like ones dropped or flagged.

        Title and text are both untrusted; a source is dropped or flagged when either is.
        """
        checked = await self._gateway.guard_context(
            [part for s in sources for part in (s.title, s.text)],
            tenant_id=self.tenant,
            origin="passage",
            model=self.llm_model,
        )
        kept: list[Source] = []
        flagged: set[str] = set()
        for index, source in enumerate(sources):
            title, text = checked.texts[2 * index], checked.texts[2 * index + 1]
            if title.dropped or text.dropped:
                continue
            if title.flagged or text.flagged:
                flagged.add(source.chunk_id)
            if title.text != source.title or text.text != source.text:
                source = source.model_copy(update={"title": title.text, "text": text.text})
            kept.append(source)
        return kept, frozenset(flagged)


def merge_hits(
    dense_hits: Sequence[SearchHit], keyword_hits: Sequence[SearchHit], vector: Vector | None
) -> dict[str, Candidate]:
    """One candidate per chunk, dense hits first, with the scores and ranks each retriever gave it.

    A chunk only the keyword retriever found gets its cosine to ``vector`` (when there is one), so
    the threshold and the re-rankers can judge it like the dense hits.
    """
    candidates: dict[str, Candidate] = {}
    query_norm = math.hypot(*vector) if vector is not None and keyword_hits else 0.0  # not in dense mode
    for rank, hit in enumerate(dense_hits, start=1):
        candidates[hit.record.id] = Candidate(hit.record, hit.score, dense_score=hit.score, dense_rank=rank)
    for rank, hit in enumerate(keyword_hits, start=1):
        existing = candidates.get(hit.record.id)
        if existing is not None:
            existing.keyword_score, existing.keyword_rank = hit.score, rank
            continue
        cosine_to_query = None if vector is None else cosine(vector, hit.record.embedding, norm_a=query_norm)
        candidates[hit.record.id] = Candidate(
            hit.record,
            hit.score,
            dense_score=cosine_to_query,
            keyword_score=hit.score,
            keyword_rank=rank,
        )
    return candidates


def apply_threshold(
    candidates: Mapping[str, Candidate], *, mode: SearchMode, top_k: int, threshold: float
) -> dict[str, Candidate]:
    """The candidates whose cosine passes ``threshold`` (every one in keyword mode).

    In hybrid mode a chunk among the ``top_k`` keyword hits stays even when its cosine is below
    the threshold: strong lexical evidence (ITSM jargon such as "S: drive" or "change freeze") is
    what small embedding models miss.
    """
    if mode == "keyword":
        return dict(candidates)
    return {
        cid: c
        for cid, c in candidates.items()
        if passes_threshold(c.dense_score, threshold)
        or (mode == "hybrid" and c.keyword_rank is not None and c.keyword_rank <= top_k)
    }


def fuse(
    candidates: Mapping[str, Candidate],
    dense_hits: Sequence[SearchHit],
    keyword_hits: Sequence[SearchHit],
    *,
    mode: SearchMode,
    config: RAGConfig,
) -> list[Candidate]:
    """The candidates ranked: by reciprocal rank fusion in hybrid mode (which sets their ``score``
    to the fused one: the candidates are the search's own working copies), else in retriever order."""
    if mode != "hybrid":
        return list(candidates.values())
    dense_ids = [h.record.id for h in dense_hits if h.record.id in candidates]
    keyword_ids = [h.record.id for h in keyword_hits if h.record.id in candidates]
    fused = reciprocal_rank_fusion([dense_ids, keyword_ids], k=config.rrf_k, weights=config.fusion_weights)
    ranked = []
    for item in fused:
        candidate = candidates[item.key]
        candidate.score = item.score
        ranked.append(candidate)
    return ranked


def diversify(
    ranked: Sequence[Source], vectors: Mapping[str, Sequence[float]], *, top_k: int, lambda_mult: float
) -> list[Source]:
    """``top_k`` of ``ranked`` chosen by maximal marginal relevance (relevant, yet unlike each other)."""
    chosen = maximal_marginal_relevance(
        [s.score for s in ranked], [vectors[s.chunk_id] for s in ranked], top_k=top_k, lambda_mult=lambda_mult
    )
    return [ranked[i] for i in chosen]


def to_source(record: VectorRecord, **scores: Any) -> Source:
    """A stored chunk as a source, with the given scores.

    Built without validation: every field comes from a record the store checked when it was
    written (validating each text and metadata value again cost about 0.4 ms a candidate, a
    search has up to twice ``candidates_for(top_k)`` of them).
    """
    metadata = dict(record.metadata)
    return Source.model_construct(
        chunk_id=record.id,
        document_id=record.document_id,
        title=str(metadata.get("title") or ""),
        source=str(metadata.get("source") or ""),
        chunk_index=record.chunk_index,
        version=record.version,
        text=record.text,
        metadata=metadata,
        **scores,
    )
