"""Spans around the steps of a RAG query and an ingest, kept apart from the steps themselves.

Each traced class is its step's class with a span around the step's methods, so the steps keep
no telemetry code and one trace per request holds the whole tree::

    rag.query
      rag.rewrite
      rag.retrieve                    (rag.mode, rag.candidates, rag.hits)
        rag.embed_query → embeddings {model}   (the gateway's span)
        rag.dense_search
        rag.keyword_search
        rag.rerank                    (when re-ranking is on)
      rag.answer → chat {model}       (the gateway's span)

    rag.ingest
      rag.ingest.parse                (per source file)
      rag.ingest.prepare              (per document: hash and chunk)
      rag.ingest.embed_batch → embeddings {model}
      rag.ingest.write                (per document version: one transaction)

No span attribute holds question, passage or document text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from motadata_ai.domain.retrieval.answer import Answer, Answerer
from motadata_ai.domain.retrieval.ingestion import EmbeddedBatch, Ingestion, Prepared
from motadata_ai.domain.retrieval.loading import DocumentLoader
from motadata_ai.domain.retrieval.rewriting import RewrittenQuery
from motadata_ai.domain.retrieval.search import Search, SearchMode, SearchResult, Vector
from motadata_ai.domain.values.documents import ConversationTurn, Document, Source, StoredDocument
from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import MetadataFilter, SearchHit
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, AttributeValue, TelemetryPort

__all__ = ["TracedAnswerer", "TracedIngestion", "TracedLoader", "TracedSearch", "tenant_attributes"]


def tenant_attributes(
    tenant: TenantContext, more: Mapping[str, AttributeValue] | None = None
) -> dict[str, AttributeValue]:
    """The tenant attribute (and the user's, when the context has one) plus ``more``."""
    attributes: dict[str, AttributeValue] = {TENANT_ATTRIBUTE: tenant.tenant_id}
    if tenant.user_id:
        attributes["enduser.id"] = tenant.user_id
    attributes.update(more or {})
    return attributes


class TracedSearch(Search):
    """:class:`Search` with a span around each step."""

    def __init__(self, *, telemetry: TelemetryPort, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.telemetry = telemetry

    async def rewrite(self, question: str, history: Sequence[str]) -> RewrittenQuery:
        """:meth:`Search.rewrite` in a ``rag.rewrite`` span."""
        with self.telemetry.span("rag.rewrite", attributes=tenant_attributes(self.tenant)) as span:
            rewritten = await super().rewrite(question, history)
            span.set_attribute("rag.rewrite.changed", rewritten.changed)
            return rewritten

    async def run(
        self,
        query: RewrittenQuery,
        *,
        top_k: int,
        mode: SearchMode,
        filters: MetadataFilter | None,
        guard: bool = False,
    ) -> SearchResult:
        """:meth:`Search.run` in a ``rag.retrieve`` span (fusion happens there)."""
        attributes = tenant_attributes(self.tenant, {"rag.mode": mode, "rag.top_k": top_k})
        if mode == "hybrid":
            attributes["rag.fusion"] = "reciprocal_rank"
        with self.telemetry.span("rag.retrieve", attributes=attributes) as span:
            result = await super().run(query, top_k=top_k, mode=mode, filters=filters, guard=guard)
            span.set_attribute("rag.hits", len(result.sources))
            span.set_attribute("rag.flagged", len(result.flagged))
            return result

    async def embed_query(self, query: RewrittenQuery, mode: SearchMode) -> tuple[Vector | None, Any]:
        """:meth:`Search.embed_query` in a ``rag.embed_query`` span (dense and hybrid modes)."""
        if mode == "keyword":
            return await super().embed_query(query, mode)
        with self.telemetry.span(
            "rag.embed_query",
            attributes=tenant_attributes(self.tenant, {"gen_ai.request.model": self.embedding_model}),
        ):
            return await super().embed_query(query, mode)

    async def dense(self, vector: Vector, pool: int, filters: MetadataFilter | None) -> list[SearchHit]:
        """:meth:`Search.dense` in a ``rag.dense_search`` span."""
        with self.telemetry.span(
            "rag.dense_search", attributes=tenant_attributes(self.tenant, {"rag.candidates": pool})
        ) as span:
            hits = await super().dense(vector, pool, filters)
            span.set_attribute("rag.hits", len(hits))
            return hits

    async def keyword(
        self, query: RewrittenQuery, pool: int, filters: MetadataFilter | None
    ) -> list[SearchHit]:
        """:meth:`Search.keyword` in a ``rag.keyword_search`` span."""
        with self.telemetry.span(
            "rag.keyword_search", attributes=tenant_attributes(self.tenant, {"rag.candidates": pool})
        ) as span:
            hits = await super().keyword(query, pool, filters)
            span.set_attribute("rag.hits", len(hits))
            return hits

    async def rerank(self, query: RewrittenQuery, ranked: list[Source]) -> tuple[list[Source], Any]:
        """:meth:`Search.rerank` in a ``rag.rerank`` span."""
        with self.telemetry.span(
            "rag.rerank",
            attributes=tenant_attributes(
                self.tenant, {"rag.reranker": type(self.reranker).__name__, "rag.candidates": len(ranked)}
            ),
        ):
            return await super().rerank(query, ranked)


class TracedAnswerer(Answerer):
    """:class:`Answerer` with a ``rag.answer`` span around the answer (the chat call inside)."""

    def __init__(self, *, telemetry: TelemetryPort, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.telemetry = telemetry

    async def answer(
        self,
        question: str,
        sources: Sequence[Source],
        *,
        flagged: Any = (),
        history: Sequence[ConversationTurn] = (),
        user_id: str | None = None,
    ) -> Answer:
        """:meth:`Answerer.answer` in a ``rag.answer`` span."""
        attributes = tenant_attributes(
            self.tenant, {"gen_ai.request.model": self.llm_model, "rag.sources": len(sources)}
        )
        with self.telemetry.span("rag.answer", attributes=attributes) as span:
            answer = await super().answer(
                question, sources, flagged=flagged, history=history, user_id=user_id
            )
            span.set_attribute("rag.citations", sum(1 for s in answer.sources if s.cited))
            return answer


class TracedLoader(DocumentLoader):
    """:class:`DocumentLoader` with a ``rag.ingest.parse`` span around each source it parses."""

    def __init__(self, *, telemetry: TelemetryPort, tenant: TenantContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.telemetry = telemetry
        self.tenant = tenant

    async def _load(self, item: str | Document, **kwargs: Any) -> list[Document]:
        if isinstance(item, Document):
            return await super()._load(item, **kwargs)
        with self.telemetry.span("rag.ingest.parse", attributes=tenant_attributes(self.tenant)) as span:
            documents = await super()._load(item, **kwargs)
            span.set_attribute("rag.documents", len(documents))
            return documents


class TracedIngestion(Ingestion):
    """:class:`Ingestion` with spans around preparing, embedding and writing each document."""

    def __init__(self, *, telemetry: TelemetryPort, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.telemetry = telemetry

    async def _prepare(self, document: Document) -> Prepared | StoredDocument:
        attributes = tenant_attributes(self.tenant, {"rag.document.id": document.id})
        with self.telemetry.span("rag.ingest.prepare", attributes=attributes) as span:
            prepared = await super()._prepare(document)
            if isinstance(prepared, Prepared):
                span.set_attribute("rag.chunks", len(prepared.chunks))
                span.set_attribute("rag.ingest.action", prepared.action)
            else:
                span.set_attribute("rag.ingest.action", "unchanged")
            return prepared

    async def _embed(self, batch: list[Prepared]) -> EmbeddedBatch:
        attributes = tenant_attributes(
            self.tenant,
            {
                "gen_ai.request.model": self.embedding_model,
                "rag.documents": len(batch),
                "rag.chunks": sum(len(p.chunks) for p in batch),
            },
        )
        with self.telemetry.span("rag.ingest.embed_batch", attributes=attributes) as span:
            embedded = await super()._embed(batch)
            if embedded.error is not None:
                span.set_attribute("error.type", type(embedded.error).__name__)
            return embedded

    async def _write(self, prepared: Prepared) -> MotadataError | None:
        attributes = tenant_attributes(
            self.tenant,
            {
                "rag.document.id": prepared.stored.document_id,
                "rag.document.version": prepared.stored.version,
            },
        )
        with self.telemetry.span("rag.ingest.write", attributes=attributes) as span:
            error = await super()._write(prepared)
            if error is not None:
                span.set_attribute("error.type", type(error).__name__)
            return error
