"""RAGSystem: the retrieval use-case of one tenant — ingest, retrieve, answer with sources, forget.

A thin facade over three collaborators, each in its own module, configured by one frozen
:class:`~motadata_ai.domain.retrieval.config.RAGConfig`:

* :class:`~motadata_ai.domain.retrieval.ingestion.Ingestion` — load, chunk, hash, embed in
  batches, write each changed document's version whole in one transaction;
* :class:`~motadata_ai.domain.retrieval.search.Search` — query rewrite, embedding, dense and
  keyword retrieval, merge, threshold, fusion, guardrails, re-ranking, MMR;
* :class:`~motadata_ai.domain.retrieval.answer.Answerer` — the prompt under a token budget, the
  chat call, the citations.

Every model call goes through the gateway, and each collaborator returns what its own calls
spent with its result: a query's usage is the sum of its rewrite's, its search's and its
answer's, so concurrent queries never count each other's tokens. The facade is about 550 lines
because it also holds listing and deleting, the per-user document erase and export that the
cross-store privacy use-case (:mod:`motadata_ai.domain.privacy`) calls, the typed overloads of
``ingest`` (in the caller, or queued for the ingestion workers), and the query's span and
metrics; each of those is a few dozen lines of delegation.
"""

from __future__ import annotations

import time
from typing import Any, Literal, overload

from motadata_ai.domain.guardrails.context import FLAG
from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.privacy.audit import AuditTrail, audit_action
from motadata_ai.domain.retrieval.answer import NO_CONTEXT_ANSWER
from motadata_ai.domain.retrieval.checks import check_conversation_id, check_search
from motadata_ai.domain.retrieval.chunking import Chunker
from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.retrieval.gateway import GatewayLike
from motadata_ai.domain.retrieval.ingest_run import ProgressCallback
from motadata_ai.domain.retrieval.jobs import IngestJobHandle, IngestJobQueue
from motadata_ai.domain.retrieval.loading import IngestSource
from motadata_ai.domain.retrieval.reranking import LLMReranker, Reranker, ScoreFusionReranker
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter, LLMQueryRewriter
from motadata_ai.domain.retrieval.search import SEARCH_MODES, SearchMode
from motadata_ai.domain.retrieval.tokens import TokenCounter, approximate_token_count
from motadata_ai.domain.retrieval.tracing import (
    TracedAnswerer,
    TracedIngestion,
    TracedLoader,
    TracedSearch,
    tenant_attributes,
)
from motadata_ai.domain.values.arguments import check_callable, check_mapping, check_positive_int
from motadata_ai.domain.values.documents import (
    ConversationTurn,
    IngestReport,
    RAGResponse,
    Source,
    StoredDocument,
    UserDocumentsDeletion,
    UserDocumentsExport,
)
from motadata_ai.domain.values.errors import ConfigurationError, NotFound, ValidationError
from motadata_ai.domain.values.keywords import keywords_only
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import MetadataFilter
from motadata_ai.ports.documents import ConversationStorePort, DocumentParserPort, DocumentStorePort
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, TelemetryPort
from motadata_ai.ports.vector_store import VectorStorePort

__all__ = [
    "LIST_PAGE_SIZE",
    "NO_CONTEXT_ANSWER",
    "SEARCH_MODES",
    "GatewayLike",
    "IngestSource",
    "KnowledgeBaseEmpty",
    "ProgressCallback",
    "RAGConfig",
    "RAGSystem",
    "SearchMode",
]

LIST_PAGE_SIZE = 1000
"""Documents fetched per page when :meth:`RAGSystem.list_documents` lists them all."""


class KnowledgeBaseEmpty(NotFound):
    """The tenant has no documents yet (``tenant_id``): ingest some before asking."""



def _ingest_summary(result: IngestReport | IngestJobHandle) -> dict[str, Any]:
    """The audit metadata of an ingest: counts, or that it was queued."""
    if isinstance(result, IngestReport):
        return {"documents": len(result.documents), "chunks": result.chunks}
    return {"background": True}

class RAGSystem:
    """Retrieval-augmented generation over one tenant's knowledge (see the module doc).

    ``config`` holds every tunable (default: ``RAGConfig()``); the rest are ports and
    collaborators. ``documents`` stores document versions; when it also implements
    :class:`ConversationStorePort` (both shipped adapters do) it keeps conversation turns too,
    unless ``conversations`` names another store. ``reranker`` and ``query_rewriter`` default to
    the model-driven ones for a generative model and to the deterministic ones for a local one.
    """

    def __init__(
        self,
        *,
        gateway: GatewayLike,
        vector_store: VectorStorePort,
        documents: DocumentStorePort,
        tenant: TenantContext | str,
        config: RAGConfig | None = None,
        conversations: ConversationStorePort | None = None,
        parser: DocumentParserPort | None = None,
        count_tokens: TokenCounter | None = None,
        reranker: Reranker | None = None,
        query_rewriter: KeywordQueryRewriter | LLMQueryRewriter | None = None,
        telemetry: TelemetryPort | None = None,
        jobs: IngestJobQueue | None = None,
        audit_trail: AuditTrail | None = None,
    ) -> None:
        self.tenant = TenantContext.of(tenant)
        self.audit_trail = audit_trail
        """Where ingest, query and delete record their audit events (``None``: not audited)."""
        self._jobs = jobs
        if config is None:
            config = RAGConfig()
        elif not isinstance(config, RAGConfig):
            raise ValidationError(f"config must be a RAGConfig, got {type(config).__name__}", field="config")
        self.config = config
        self._gateway = gateway
        self._vectors = vector_store
        self._documents = documents
        if conversations is None and isinstance(documents, ConversationStorePort):
            conversations = documents
        self._conversations = conversations
        if config.enable_memory and conversations is None:
            raise ConfigurationError(
                "enable_memory needs a conversation store: pass conversations=... or disable memory",
                field="conversations",
            )
        self._telemetry: TelemetryPort = telemetry or NoTelemetry()
        self.count_tokens: TokenCounter = count_tokens or approximate_token_count
        self.chunker = Chunker(
            chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap, count_tokens=self.count_tokens
        )
        self.embedding_model = config.embedding_model or gateway.default_embedding_model
        self.llm_model = config.llm_model or gateway.default_model
        generative = gateway.capabilities(self.llm_model).generative
        self.rewriter: KeywordQueryRewriter | LLMQueryRewriter
        if query_rewriter is not None:
            self.rewriter = query_rewriter
        elif generative:
            self.rewriter = LLMQueryRewriter(generate=self._rewrite, model=self.llm_model)
        else:
            self.rewriter = KeywordQueryRewriter()
        self.reranker: Reranker
        if reranker is not None:
            self.reranker = reranker
        elif generative:
            self.reranker = LLMReranker(generate=self._rerank, model=self.llm_model)
        else:
            self.reranker = ScoreFusionReranker()
        self._ingestion = TracedIngestion(
            telemetry=self._telemetry,
            gateway=gateway,
            documents=documents,
            vector_store=vector_store,
            loader=TracedLoader(
                telemetry=self._telemetry,
                tenant=self.tenant,
                parser=parser,
                max_document_bytes=config.max_document_bytes,
            ),
            tenant=self.tenant,
            chunker=self.chunker,
            embedding_model=self.embedding_model,
            embed_batch_size=config.embed_batch_size,
            parsing=config.parsing,
        )
        self._search = TracedSearch(
            telemetry=self._telemetry,
            gateway=gateway,
            vector_store=vector_store,
            tenant=self.tenant,
            config=config,
            rewriter=self.rewriter,
            reranker=self.reranker,
            embedding_model=self.embedding_model,
            llm_model=self.llm_model,
        )
        self._answerer = TracedAnswerer(
            telemetry=self._telemetry,
            gateway=gateway,
            tenant=self.tenant,
            llm_model=self.llm_model,
            count_tokens=self.count_tokens,
            max_context_tokens=config.max_context_tokens,
            instructions=config.instructions,
        )

    @property
    def top_k(self) -> int:
        """The chunks a search returns unless the call says otherwise."""
        return self.config.top_k

    @property
    def enable_query_rewriting(self) -> bool:
        """Whether questions are rewritten into search queries."""
        return self.config.enable_query_rewriting

    @property
    def parsing(self) -> ParseOptions:
        """The file parsing options of an ingest that names none."""
        return self.config.parsing

    async def _rewrite(self, request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        return await self._gateway.generate(request, tenant_id=tenant, purpose="query_rewrite")

    async def _rerank(self, request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        return await self._gateway.generate(request, tenant_id=tenant, purpose="rerank")

    # -- ingestion ---------------------------------------------------------------------------------

    @property
    def ingest_settings(self) -> dict[str, Any]:
        """The settings that decide stored chunks; part of every content hash."""
        return self._ingestion.settings

    @overload
    async def ingest(
        self,
        source: IngestSource,
        *,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        parsing: ParseOptions | None = None,
        background: Literal[False] = False,
    ) -> IngestReport: ...

    @overload
    async def ingest(
        self,
        source: IngestSource,
        *,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        parsing: ParseOptions | None = None,
        background: Literal[True],
    ) -> IngestJobHandle: ...

    @audit_action("rag.ingest", summary=_ingest_summary)
    async def ingest(
        self,
        source: IngestSource,
        *,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        parsing: ParseOptions | None = None,
        background: bool = False,
    ) -> IngestReport | IngestJobHandle:
        """Ingest a file, a directory, a :class:`Document`, or a list of them.

        ``background=True`` enqueues the work for the ingestion workers (``motadata-ai worker``,
        :mod:`~motadata_ai.domain.retrieval.jobs`) and returns at once an
        :class:`~motadata_ai.domain.retrieval.jobs.IngestJobHandle` (``progress``,
        ``await handle.result()``); paths must be readable by the workers. It needs a job queue
        (``jobs=``), which the SDK builds on a NATS bus.

        A single file or document that cannot be ingested raises its
        :class:`~motadata_ai.ports.documents.DocumentRejected` (naming it); in a directory or a
        list, each bad source is reported in ``failures`` and the rest are ingested. Entries of
        a directory that are not read — FIFOs, sockets, symlinks leading outside it — are
        reported as ``UnsafeDocumentPath`` failures. A file of several documents (rows of a
        table, records of a JSON export, an e-mail's attachments) adds each of them, and
        ``progress``'s total grows by the extras as they are found. ``parsing`` overrides the
        system's :class:`~motadata_ai.domain.values.parsing.ParseOptions` for this call. A document
        whose content hash matches the stored version is left alone; a changed one becomes a
        new version written whole in one transaction with its chunks (a failure or a crash
        keeps the old version whole). Concurrent ingests of one document queue on it: one
        stores its content, an identical one then reports ``unchanged``, a different one
        becomes the next version (``updated``); vectors are never recomputed for the retry.
        """
        check_mapping("metadata", metadata)
        check_callable("progress", progress)
        if background:
            if self._jobs is None:
                raise ConfigurationError(
                    "background ingestion needs the ingestion job queue (MOTADATA_NATS_URL)", field="jobs"
                )
            return await self._jobs.submit(self.tenant, source, user_id=user_id, metadata=metadata)
        with self._telemetry.span("rag.ingest", attributes=tenant_attributes(self.tenant)) as span:
            # one ingest is one request of its user: its embeddings are recorded under it; it spends
            # none of the tenant's requests (its embeddings wait on their own bucket)
            async with self._gateway.request(
                self.tenant, operation="rag.ingest", user_id=user_id or self.tenant.user_id, spend=False
            ):
                report = await self._ingestion.ingest(
                    source, user_id=user_id, metadata=metadata, progress=progress, parsing=parsing
                )
            span.set_attribute("rag.documents", len(report.documents))
            span.set_attribute("rag.failures", len(report.failures))
            span.set_attribute("rag.chunks", report.chunks)
            return report

    # -- retrieval -----------------------------------------------------------------------------------

    async def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        mode: str = "hybrid",
        filters: MetadataFilter | None = None,
        guarded: bool = False,
    ) -> list[Source]:
        """The ``top_k`` best chunks for ``question`` (no answer, no memory), best first.

        ``guarded`` (for a caller that hands the chunks to a model, like the ``knowledge_search``
        tool): they pass the input guardrails as :meth:`query`'s passages do (PII redacted,
        injection-like chunks dropped; a flagged chunk's title starts with the guardrails' flag).
        A retrieval is one request of the tenant's rate limit (inside an agent's step: part of it).
        """
        args = check_search(question, mode=mode, top_k=top_k, filters=filters, config=self.config)
        with self._telemetry.span("rag.search", attributes=tenant_attributes(self.tenant)):
            async with self._gateway.request(self.tenant, operation="rag.retrieve"):
                rewritten = await self._search.rewrite(args.question, ())
                found = await self._search.run(
                    rewritten, top_k=args.top_k, mode=args.mode, filters=filters, guard=guarded
                )
        return [
            s.model_copy(update={"title": f"{FLAG} {s.title}".rstrip()}) if s.chunk_id in found.flagged else s
            for s in found.sources
        ]

    # -- answering -----------------------------------------------------------------------------------

    @audit_action("rag.query", summary=lambda r: {"sources": len(r.sources), "mode": r.mode})
    async def query(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        user_id: str | None = None,
        top_k: int | None = None,
        mode: str = "hybrid",
        filters: MetadataFilter | None = None,
    ) -> RAGResponse:
        """Answer ``question`` from the tenant's knowledge, citing the sources it used.

        With ``conversation_id`` (and memory on) the earlier turns feed the rewrite and the prompt,
        and this turn is stored. Raises :class:`KnowledgeBaseEmpty` when the tenant has no documents.
        The tokens and cost reported are the sums of the usage records of this query's own calls
        (rewrite, query embedding, re-ranking, answer), attributed to ``user_id``. One query is one
        request of the tenant's rate limit: its
        calls are made on its behalf.
        """
        check_search(question, mode=mode, top_k=top_k, filters=filters, config=self.config)
        check_conversation_id(conversation_id)  # bad input is refused before it spends a request
        user = user_id or self.tenant.user_id
        async with self._gateway.request(
            self.tenant, operation="rag.query", user_id=user, conversation_id=conversation_id
        ) as origin:
            response = await self._query(
                question,
                conversation_id=conversation_id,
                user_id=user_id,
                top_k=top_k,
                mode=mode,
                filters=filters,
            )
        if origin.usage is None:
            return response
        return response.model_copy(update={**origin.usage.totals(), "request_id": origin.request_id})

    async def _query(
        self,
        question: str,
        *,
        conversation_id: str | None,
        user_id: str | None,
        top_k: int | None,
        mode: str,
        filters: MetadataFilter | None,
    ) -> RAGResponse:
        started = time.perf_counter()
        attributes = tenant_attributes(self.tenant, {"gen_ai.operation.name": "rag.query"})
        if conversation_id:
            attributes["gen_ai.conversation.id"] = conversation_id
        with self._telemetry.span("rag.query", attributes=attributes) as span:
            args = check_search(question, mode=mode, top_k=top_k, filters=filters, config=self.config)
            check_conversation_id(conversation_id)
            question, search_mode = args.question, args.mode
            history = await self._history(conversation_id)
            rewritten = await self._search.rewrite(question, [t.question for t in history])
            found = await self._search.run(
                rewritten, top_k=args.top_k, mode=search_mode, filters=filters, guard=True
            )
            # counted only when nothing was found, to tell an empty knowledge base from no match
            if not found.sources and await self._documents.count(self.tenant) == 0:
                raise KnowledgeBaseEmpty(
                    f"tenant {self.tenant.tenant_id!r} has no documents: ingest some first "
                    f"(motadata-ai ingest --tenant {self.tenant.tenant_id} PATH)",
                    field="tenant_id",
                    tenant_id=self.tenant.tenant_id,
                )
            answer = await self._answerer.answer(
                question,
                found.sources,
                flagged=found.flagged,
                history=history,
                user_id=user_id or self.tenant.user_id,
            )
            usage = rewritten.usage + found.usage + answer.usage
            if self._remembers(conversation_id):
                assert self._conversations is not None and conversation_id is not None
                await self._conversations.append(
                    self.tenant,
                    ConversationTurn(
                        tenant_id=self.tenant.tenant_id,
                        conversation_id=conversation_id,
                        user_id=user_id or self.tenant.user_id,
                        question=question,
                        answer=answer.text,
                        rewritten_query=rewritten.dense if rewritten.changed else None,
                        source_ids=tuple(s.chunk_id for s in answer.sources if s.cited),
                    ),
                )
            span.set_attribute("rag.sources", len(answer.sources))
            span.set_attribute("rag.mode", search_mode)
            self._query_metrics(time.perf_counter() - started, len(found.sources), search_mode)
            return RAGResponse(
                answer=answer.text,
                sources=answer.sources,
                question=question,
                rewritten_query=rewritten.keyword if rewritten.changed else None,
                conversation_id=conversation_id,
                model=self.llm_model,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=usage.cost_usd,
                trace_id=span.trace_id,
                mode=search_mode,
            )

    def _remembers(self, conversation_id: str | None) -> bool:
        return bool(self.config.enable_memory and conversation_id and self._conversations is not None)

    async def _history(self, conversation_id: str | None) -> list[ConversationTurn]:
        if not (self._remembers(conversation_id) and self.config.memory_turns):
            return []
        assert self._conversations is not None and conversation_id is not None
        return await self._conversations.history(self.tenant, conversation_id, limit=self.config.memory_turns)

    # -- documents and users -------------------------------------------------------------------------

    async def list_documents(
        self, *, user_id: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[StoredDocument]:
        """Current versions of the tenant's documents (of ``user_id`` when given), by document id.

        Without ``limit`` every document is returned (fetched page by page, never cut off);
        with ``limit`` (and ``offset``) one page of at most ``limit`` documents, so a caller
        pages on with ``offset += len(page)`` until a page comes back shorter than ``limit``.
        """
        if limit is not None:
            check_positive_int("limit", limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValidationError(f"offset must be a non-negative integer, got {offset!r}", field="offset")
        if limit is not None:
            return await self._documents.list(self.tenant, user_id=user_id, limit=limit, offset=offset)
        documents: list[StoredDocument] = []
        while True:
            page = await self._documents.list(
                self.tenant, user_id=user_id, limit=LIST_PAGE_SIZE, offset=offset + len(documents)
            )
            documents.extend(page)
            if len(page) < LIST_PAGE_SIZE:
                return documents

    async def count_documents(self, *, user_id: str | None = None) -> int:
        """How many documents the tenant (or ``user_id``) has."""
        return await self._documents.count(self.tenant, user_id=user_id)

    @audit_action("rag.delete", resource=lambda _, a, k: a[0] if a else k.get("document_id", ""))
    async def delete_document(self, document_id: str) -> bool:
        """Delete a document's chunks and every version in one transaction; ``False`` if none existed."""
        if not isinstance(document_id, str) or not document_id:
            raise ValidationError("document_id must be a non-empty string", field="document_id")
        return await self._documents.delete(self.tenant, document_id, vectors=self._vectors)

    def _check_user(self, user_id: str, tenant_id: str | None) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise ValidationError("user_id must be a non-empty string", field="user_id")
        if tenant_id is not None and TenantContext.of(tenant_id).tenant_id != self.tenant.tenant_id:
            raise ValidationError(
                f"this RAG system serves tenant {self.tenant.tenant_id!r}, not {tenant_id!r}",
                field="tenant_id",
            )

    @keywords_only
    @audit_action("rag.delete", resource=lambda *_: "user", summary=lambda r: {"docs": len(r.document_ids)})
    async def delete_user_documents(
        self, *, user_id: str, tenant_id: str | None = None
    ) -> UserDocumentsDeletion:
        """Erase every document (with its chunks) and conversation turn of ``user_id`` (keywords
        only). This is the RAG part of ``ai.privacy.erase_user``, which erases every store."""
        self._check_user(user_id, tenant_id)
        deleted: list[str] = []
        chunks = 0
        while True:
            batch = await self._documents.list(self.tenant, user_id=user_id, limit=500)
            if not batch:
                break
            for stored in batch:
                # the current version's chunks are exactly the stored ones (one write per version)
                await self._documents.delete(self.tenant, stored.document_id, vectors=self._vectors)
                chunks += len(stored.chunk_ids)
                deleted.append(stored.document_id)
        turns = await self._conversations.delete_user(self.tenant, user_id) if self._conversations else 0
        return UserDocumentsDeletion(
            tenant_id=self.tenant.tenant_id,
            user_id=user_id,
            document_ids=tuple(deleted),
            chunks=chunks,
            conversation_turns=turns,
        )

    @keywords_only
    async def export_user_documents(
        self, *, user_id: str, tenant_id: str | None = None
    ) -> UserDocumentsExport:
        """Every stored version of ``user_id``'s documents and all of their conversation turns
        (keywords only; the RAG part of ``ai.privacy.export_user``)."""
        self._check_user(user_id, tenant_id)
        documents: list[StoredDocument] = []
        offset = 0
        while True:
            batch = await self._documents.list(self.tenant, user_id=user_id, limit=500, offset=offset)
            if not batch:
                break
            for stored in batch:
                documents.extend(await self._documents.versions(self.tenant, stored.document_id))
            offset += len(batch)
        turns = await self._conversations.user_turns(self.tenant, user_id) if self._conversations else []
        return UserDocumentsExport(
            tenant_id=self.tenant.tenant_id,
            user_id=user_id,
            documents=tuple(documents),
            conversations=tuple(turns),
        )

    async def conversation(self, conversation_id: str, *, limit: int = 50) -> list[ConversationTurn]:
        """The stored turns of a conversation, oldest first."""
        if self._conversations is None:
            return []
        return await self._conversations.history(self.tenant, conversation_id, limit=limit)

    # -- telemetry -----------------------------------------------------------------------------------

    def _query_metrics(self, elapsed_s: float, hits: int, mode: str) -> None:
        attributes = {TENANT_ATTRIBUTE: self.tenant.tenant_id, "rag.mode": mode}
        self._telemetry.record_histogram(
            "motadata.rag.query.duration", elapsed_s, unit="s", attributes=attributes
        )
        self._telemetry.record_histogram("motadata.rag.hits", hits, unit="{hit}", attributes=attributes)
        if not hits:
            self._telemetry.add_counter("motadata.rag.empty_results", 1, attributes=attributes)
