"""RAGSystem: the retrieval use-case of one tenant — ingest, retrieve, answer with sources, forget.

Every embedding and every model call goes through the gateway. Ingestion parses, chunks
(token-aware, Markdown-heading-aware), hashes and embeds in batches, then writes each changed
document's new version — its row, version and chunks — as one unit of work
(:meth:`DocumentStorePort.write_version`: one transaction, serialised per document, version
compare-and-set), so no failure or crash leaves a half-written document; retrieval is dense,
keyword or hybrid (reciprocal rank fusion) with a similarity threshold, optional re-ranking
and MMR; answers are built from numbered passages under a token budget and their ``[n]``
citations are mapped back to sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from motadata_ai.domain.guardrails.context import FLAG, ContextCheck, ContextOrigin
from motadata_ai.domain.retrieval.chunking import Chunk, Chunker
from motadata_ai.domain.retrieval.context import DEFAULT_INSTRUCTIONS, build_context, mark_cited
from motadata_ai.domain.retrieval.fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from motadata_ai.domain.retrieval.hashing import chunk_id, content_hash, normalise_text
from motadata_ai.domain.retrieval.mmr import maximal_marginal_relevance
from motadata_ai.domain.retrieval.reranking import LLMReranker, Reranker, ScoreFusionReranker
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter, LLMQueryRewriter, RewrittenQuery
from motadata_ai.domain.retrieval.scoring import cosine, passes_threshold, validate_threshold
from motadata_ai.domain.retrieval.tokens import TokenCounter, approximate_token_count
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.documents import (
    ConversationTurn,
    Document,
    IngestedDocument,
    IngestFailure,
    IngestReport,
    RAGResponse,
    Source,
    StoredDocument,
    UserDocumentsDeletion,
    UserDocumentsExport,
)
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError, NotFound, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, EmbeddingResponse, Message
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import MetadataFilter, SearchHit, VectorRecord, check_filters
from motadata_ai.ports.documents import (
    ConversationStorePort,
    DocumentParserPort,
    DocumentRejected,
    DocumentStorePort,
    DocumentTooLarge,
    EmptyDocument,
    UndecodableDocument,
    VersionConflict,
)
from motadata_ai.ports.telemetry import SpanHandle, TelemetryPort
from motadata_ai.ports.vector_store import VectorStorePort

SearchMode = Literal["dense", "keyword", "hybrid"]
SEARCH_MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
LOCAL_MODEL_PREFIX = "local/"
NO_CONTEXT_ANSWER = "I could not find anything about that in the knowledge base."
MAX_CONVERSATION_ID_LENGTH = 256
MAX_WRITE_ATTEMPTS = 16
"""How often one ingest re-bases its version on a concurrent writer's before it reports the conflict."""
LIST_PAGE_SIZE = 1000
"""Documents fetched per page when :meth:`RAGSystem.list_documents` lists them all."""


class KnowledgeBaseEmpty(NotFound):
    """The tenant has no documents yet (``tenant_id``): ingest some before asking."""


class GatewayLike(Protocol):
    """What RAG needs of the gateway: embeddings, completions and the default model names."""

    @property
    def default_model(self) -> str:
        """The chat model used when none is named."""
        ...

    @property
    def default_embedding_model(self) -> str:
        """The embedding model used when none is named."""
        ...

    async def embed(
        self,
        texts: Sequence[str],
        *,
        tenant: TenantContext | str,
        model: str | None = None,
        wait: bool | None = None,
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant``; ``wait`` queues a rate-limited call instead of failing."""
        ...

    async def generate(self, request: ChatRequest, *, tenant: TenantContext | str) -> ChatResponse:
        """Run one completion for ``tenant``."""
        ...

    async def guard_context(
        self,
        texts: Sequence[str],
        *,
        tenant: TenantContext | str,
        origin: ContextOrigin,
        model: str | None = None,
    ) -> ContextCheck:
        """Guard untrusted text before a prompt quotes it, at the tenant's guardrail level (audited)."""
        ...


ProgressCallback = Callable[[int, int, str], None]
"""``progress(done, total, source)``: called once before ingesting (done=0) and after each source."""

IngestSource = str | Path | Document | Sequence[str | Path | Document]
_Item = tuple[str | Document, str | None]
"""A source to load and the folder it was listed from (``None`` for a named file or a Document)."""


@dataclass
class _Prepared:
    document: Document
    stored: StoredDocument
    chunks: list[Chunk]
    previous: StoredDocument | None
    vectors: list[tuple[float, ...]] = field(default_factory=list)
    unchanged: bool = False  # a concurrent ingest stored this very content first

    @property
    def action(self) -> str:
        if self.unchanged:
            return "unchanged"
        return "updated" if self.previous else "created"


class RAGSystem:
    """Retrieval-augmented generation over one tenant's knowledge (see the module doc).

    ``documents`` stores document versions; when it also implements
    :class:`ConversationStorePort` (both shipped adapters do) it keeps conversation turns too,
    unless ``conversations`` names another store.
    """

    def __init__(
        self,
        *,
        gateway: GatewayLike,
        vector_store: VectorStorePort,
        documents: DocumentStorePort,
        tenant: TenantContext | str,
        conversations: ConversationStorePort | None = None,
        parser: DocumentParserPort | None = None,
        count_tokens: TokenCounter | None = None,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
        top_k: int = 5,
        similarity_threshold: float = 0.7,
        enable_query_rewriting: bool = True,
        enable_reranking: bool = False,
        enable_memory: bool = True,
        embedding_model: str | None = None,
        llm_model: str | None = None,
        max_document_bytes: int = 20 * 1024 * 1024,
        parsing: ParseOptions | None = None,
        embed_batch_size: int = 64,
        max_query_chars: int = 4000,
        rrf_k: float = DEFAULT_RRF_K,
        dense_weight: float = 1.0,
        keyword_weight: float = 1.0,
        candidate_pool: int | None = None,
        reranker: Reranker | None = None,
        rerank_candidates: int = 20,
        use_mmr: bool = False,
        mmr_lambda: float = 0.7,
        max_context_tokens: int = 3000,
        memory_turns: int = 3,
        instructions: str = DEFAULT_INSTRUCTIONS,
        query_rewriter: KeywordQueryRewriter | LLMQueryRewriter | None = None,
        telemetry: TelemetryPort | None = None,
    ) -> None:
        self.tenant = TenantContext.of(tenant)
        _positive("top_k", top_k)
        _positive("embed_batch_size", embed_batch_size)
        _positive("max_document_bytes", max_document_bytes)
        _positive("max_query_chars", max_query_chars)
        _positive("max_context_tokens", max_context_tokens)
        _positive("rerank_candidates", rerank_candidates)
        if memory_turns < 0:
            raise ValidationError("memory_turns must be >= 0", field="memory_turns")
        self._gateway = gateway
        self._vectors = vector_store
        self._documents = documents
        if conversations is None and isinstance(documents, ConversationStorePort):
            conversations = documents
        self._conversations = conversations
        if enable_memory and conversations is None:
            raise ConfigurationError(
                "enable_memory needs a conversation store: pass conversations=... or disable memory",
                field="conversations",
            )
        self._parser = parser
        self.count_tokens: TokenCounter = count_tokens or approximate_token_count
        self.chunker = Chunker(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, count_tokens=self.count_tokens
        )
        self.top_k = top_k
        self.similarity_threshold = validate_threshold(similarity_threshold)
        self.enable_query_rewriting = enable_query_rewriting
        self.enable_reranking = enable_reranking
        self.enable_memory = enable_memory
        self.embedding_model = embedding_model or gateway.default_embedding_model
        self.llm_model = llm_model or gateway.default_model
        self.max_document_bytes = max_document_bytes
        self.parsing = _parse_options(parsing)
        self.embed_batch_size = embed_batch_size
        self.max_query_chars = max_query_chars
        self.rrf_k = rrf_k
        self.fusion_weights = (dense_weight, keyword_weight)
        self.candidate_pool = candidate_pool
        self.rerank_candidates = rerank_candidates
        self.use_mmr = use_mmr
        self.mmr_lambda = mmr_lambda
        self.max_context_tokens = max_context_tokens
        self.memory_turns = memory_turns
        self.instructions = instructions
        self._telemetry = telemetry
        generative = not self.llm_model.startswith(LOCAL_MODEL_PREFIX)
        self.rewriter: KeywordQueryRewriter | LLMQueryRewriter
        if query_rewriter is not None:
            self.rewriter = query_rewriter
        elif generative:
            self.rewriter = LLMQueryRewriter(generate=self._generate, model=self.llm_model)
        else:
            self.rewriter = KeywordQueryRewriter()
        self.reranker: Reranker
        if reranker is not None:
            self.reranker = reranker
        elif generative:
            self.reranker = LLMReranker(generate=self._generate, model=self.llm_model)
        else:
            self.reranker = ScoreFusionReranker()

    # -- ingestion ---------------------------------------------------------------------------------

    @property
    def ingest_settings(self) -> dict[str, Any]:
        """The settings that decide stored chunks; part of every content hash."""
        return {
            "chunk_size": self.chunker.chunk_size,
            "chunk_overlap": self.chunker.chunk_overlap,
            "embedding_model": self.embedding_model,
        }

    async def ingest(
        self,
        source: IngestSource,
        *,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        parsing: ParseOptions | None = None,
    ) -> IngestReport:
        """Ingest a file, a directory, a :class:`Document`, or a list of them.

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
        with self._span("rag.ingest") as span:
            items = await self._expand(source)
            single = isinstance(source, Document) or (
                isinstance(source, str | Path) and not await self._require_parser().is_directory(str(source))
            )
            total = len(items)
            if progress:
                progress(0, total, "")
            done = 0
            results: list[IngestedDocument] = []
            failures: list[IngestFailure] = []
            pending: list[_Prepared] = []
            counters = {"chunks": 0, "tokens": 0, "cost": 0.0}

            async def flush() -> None:
                nonlocal done
                if not pending:
                    return
                batch = list(pending)
                pending.clear()
                outcome = await self._write_batch(batch, counters)
                for prepared, error in outcome:
                    name = prepared.document.source or prepared.document.id
                    if error is None:
                        results.append(
                            IngestedDocument(
                                document_id=prepared.stored.document_id,
                                title=prepared.stored.title,
                                source=prepared.stored.source,
                                version=prepared.stored.version,
                                action=prepared.action,
                                chunks=len(prepared.stored.chunk_ids),
                            )
                        )
                    elif single:
                        raise error
                    else:
                        failures.append(_failure(name, error))
                    done += 1
                    if progress:
                        progress(done, total, name)

            options = self.parsing if parsing is None else _parse_options(parsing)
            async for name, document, more in self._load_each(
                items, user_id=user_id, metadata=metadata, parsing=options
            ):
                total += more
                try:
                    if isinstance(document, MotadataError):
                        raise document
                    if any(p.document.id == document.id for p in pending):
                        await flush()
                    prepared = await self._prepare(document)
                except MotadataError as error:
                    if single or not isinstance(error, DocumentRejected | NotFound):
                        raise
                    failures.append(_failure(name, error))
                    done += 1
                    if progress:
                        progress(done, total, name)
                    continue
                if prepared is None:
                    previous = await self._documents.get(self.tenant, document.id)
                    assert previous is not None
                    results.append(
                        IngestedDocument(
                            document_id=previous.document_id,
                            title=previous.title,
                            source=previous.source,
                            version=previous.version,
                            action="unchanged",
                            chunks=len(previous.chunk_ids),
                        )
                    )
                    done += 1
                    if progress:
                        progress(done, total, name)
                    continue
                pending.append(prepared)
                if sum(len(p.chunks) for p in pending) >= self.embed_batch_size:
                    await flush()
            await flush()
            report = IngestReport(
                tenant_id=self.tenant.tenant_id,
                documents=tuple(results),
                failures=tuple(failures),
                chunks=int(counters["chunks"]),
                embedding_tokens=int(counters["tokens"]),
                cost_usd=float(counters["cost"]),
            )
            if span:
                span.set_attribute("rag.documents", len(results))
                span.set_attribute("rag.failures", len(failures))
                span.set_attribute("rag.chunks", report.chunks)
            return report

    async def _expand(self, source: IngestSource) -> list[_Item]:
        if isinstance(source, Document):
            return [(source, None)]
        if isinstance(source, str | Path):
            return await self._list(str(source))
        if not isinstance(source, Sequence):
            raise ValidationError(
                f"cannot ingest a {type(source).__name__}: pass a path, a Document or a list of them",
                field="source",
            )
        items: list[_Item] = []
        for item in source:
            if isinstance(item, Document):
                items.append((item, None))
            elif isinstance(item, str | Path):
                items.extend(await self._list(str(item)))
            else:
                raise ValidationError(
                    f"cannot ingest a {type(item).__name__}: pass paths or Documents", field="source"
                )
        return items

    async def _list(self, path: str) -> list[_Item]:
        parser = self._require_parser()
        root = path if await parser.is_directory(path) else None
        return [(entry, root) for entry in await parser.list_files(path)]

    def _require_parser(self) -> DocumentParserPort:
        if self._parser is None:
            raise ConfigurationError("ingesting files needs a parser (parser=...)", field="parser")
        return self._parser

    async def _load_each(
        self,
        items: list[_Item],
        *,
        user_id: str | None,
        metadata: dict[str, Any] | None,
        parsing: ParseOptions,
    ) -> AsyncIterator[tuple[str, Document | MotadataError, int]]:
        """``(name, document or its loading error, extra documents its source adds)`` per document."""
        for item, root in items:
            name = str(item.source or item.id) if isinstance(item, Document) else str(item)
            try:
                documents = await self._load(
                    item, root=root, user_id=user_id, metadata=metadata, parsing=parsing
                )
            except MotadataError as error:
                yield name, error, 0
                continue
            for index, document in enumerate(documents):
                yield str(document.source or document.id), document, len(documents) - 1 if index == 0 else 0

    async def _load(
        self,
        item: str | Document,
        *,
        root: str | None,
        user_id: str | None,
        metadata: dict[str, Any] | None,
        parsing: ParseOptions,
    ) -> list[Document]:
        if isinstance(item, Document):
            document = item
            if user_id is not None and document.user_id is None:
                document = document.model_copy(update={"user_id": user_id})
            if metadata:
                document = document.model_copy(update={"metadata": {**metadata, **document.metadata}})
            self._check_document(document)
            return [document]
        try:
            documents = await self._require_parser().parse(
                item,
                max_bytes=self.max_document_bytes,
                options=parsing,
                root=root,
                user_id=user_id,
                metadata=metadata,
            )
        except DocumentRejected:
            raise
        except ValidationError as error:  # the file's text does not make a valid Document
            raise UndecodableDocument(
                f"{item}: {error}", source=str(item), field=error.fields.get("field") or "text"
            ) from error
        for document in documents:
            self._check_document(document)
        return documents

    def _check_document(self, document: Document) -> None:
        name = document.source or document.id
        size = len(document.text.encode("utf-8", errors="surrogatepass"))
        if size > self.max_document_bytes:
            raise DocumentTooLarge(
                f"{name}: {size} bytes is over the limit of {self.max_document_bytes} bytes "
                "(max_document_bytes)",
                source=name,
                field="max_document_bytes",
                size=size,
                max_bytes=self.max_document_bytes,
            )
        if "\x00" in document.text:
            raise UndecodableDocument(
                f"{name}: text holds NUL characters (binary data?)", source=name, field="text"
            )
        try:
            document.text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise UndecodableDocument(
                f"{name}: text holds characters that are not valid Unicode ({error.reason})",
                source=name,
                field="text",
            ) from error
        if not document.text.strip():
            raise EmptyDocument(
                f"{name}: the document is empty or only whitespace", source=name, field="text"
            )

    async def _prepare(self, document: Document) -> _Prepared | None:
        digest = content_hash(document, settings=self.ingest_settings)
        previous = await self._documents.get(self.tenant, document.id)
        if previous is not None and previous.content_hash == digest:
            return None
        version = previous.version + 1 if previous else 1
        text = normalise_text(document.text)
        chunks = self.chunker.chunk(text, format=document.format)
        if not chunks:
            name = document.source or document.id
            raise EmptyDocument(f"{name}: the document has no text to index", source=name, field="text")
        stored = StoredDocument(
            tenant_id=self.tenant.tenant_id,
            document_id=document.id,
            version=version,
            content_hash=digest,
            title=document.title,
            source=document.source,
            format=document.format,
            user_id=document.user_id,
            text=text,
            metadata=document.metadata,
            chunk_ids=tuple(chunk_id(self.tenant.tenant_id, document.id, version, c.index) for c in chunks),
            token_count=sum(c.tokens for c in chunks),
        )
        return _Prepared(document=document, stored=stored, chunks=chunks, previous=previous)

    def _embedding_text(self, title: str, chunk: Chunk) -> str:
        if title and title.lower() not in chunk.text[: len(title) + 20].lower():
            return f"{title}\n{chunk.text}"
        return chunk.text

    async def _write_batch(
        self, batch: list[_Prepared], counters: dict[str, float]
    ) -> list[tuple[_Prepared, MotadataError | None]]:
        texts = [self._embedding_text(p.stored.title, c) for p in batch for c in p.chunks]
        vectors: list[tuple[float, ...]] = []
        try:
            for start in range(0, len(texts), self.embed_batch_size):
                # bulk ingestion waits for the tenant's rate limit instead of failing half-way
                response = await self._gateway.embed(
                    texts[start : start + self.embed_batch_size],
                    tenant=self.tenant,
                    model=self.embedding_model,
                    wait=True,
                )
                if len(response.vectors) != len(texts[start : start + self.embed_batch_size]):
                    raise ValidationError(
                        f"embedding model {self.embedding_model} returned {len(response.vectors)} vectors "
                        f"for {len(texts[start : start + self.embed_batch_size])} texts",
                        field="embeddings",
                        model=self.embedding_model,
                    )
                vectors.extend(response.vectors)
                counters["tokens"] += response.usage.input_tokens
                counters["cost"] += response.cost_usd
        except MotadataError as error:
            return [(p, error) for p in batch]
        outcome: list[tuple[_Prepared, MotadataError | None]] = []
        position = 0
        for prepared in batch:
            prepared.vectors = vectors[position : position + len(prepared.chunks)]
            position += len(prepared.chunks)
            try:
                await self._write(prepared)
            except MotadataError as error:
                outcome.append((prepared, error))
                continue
            if not prepared.unchanged:
                counters["chunks"] += len(prepared.chunks)
            outcome.append((prepared, None))
        return outcome

    async def _write(self, prepared: _Prepared) -> None:
        """Write the prepared version whole (one transaction); settle a lost race without re-embedding.

        On :class:`VersionConflict` another ingest of the same document committed first: when it
        stored this very content the ingest is ``unchanged``, otherwise this version is re-based
        on the winner's (next version number, new chunk ids) and written again.
        """
        for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
            stored = prepared.stored
            try:
                await self._documents.write_version(
                    self.tenant, stored, self._records(prepared), vectors=self._vectors
                )
                return
            except VersionConflict:
                current = await self._documents.get(self.tenant, stored.document_id)
                if current is not None and current.content_hash == stored.content_hash:
                    prepared.stored, prepared.unchanged = current, True
                    return
                if attempt == MAX_WRITE_ATTEMPTS:
                    raise
                self._rebase(prepared, current)

    def _rebase(self, prepared: _Prepared, current: StoredDocument | None) -> None:
        version = current.version + 1 if current else 1
        document_id = prepared.stored.document_id
        prepared.previous = current
        prepared.stored = prepared.stored.model_copy(
            update={
                "version": version,
                "chunk_ids": tuple(
                    chunk_id(self.tenant.tenant_id, document_id, version, c.index) for c in prepared.chunks
                ),
            }
        )

    def _records(self, prepared: _Prepared) -> list[VectorRecord]:
        stored = prepared.stored
        base_metadata = {
            **stored.metadata,
            "title": stored.title,
            "source": stored.source,
            "user_id": stored.user_id,
            "format": stored.format,
        }
        return [
            VectorRecord(
                id=stored.chunk_ids[chunk.index],
                tenant_id=self.tenant.tenant_id,
                document_id=stored.document_id,
                version=stored.version,
                chunk_index=chunk.index,
                text=chunk.text,
                embedding=tuple(vector),
                metadata={**base_metadata, "headings": " > ".join(chunk.headings)},
            )
            for chunk, vector in zip(prepared.chunks, prepared.vectors, strict=True)
        ]

    # -- retrieval -----------------------------------------------------------------------------------

    def _check_question(self, question: object) -> str:
        if not isinstance(question, str):
            raise ValidationError(
                f"question must be a string, got {type(question).__name__}", field="question"
            )
        if not question.strip():
            raise ValidationError("question must not be empty", field="question")
        check_text(question, "question")
        if len(question) > self.max_query_chars:
            raise ValidationError(
                f"question is {len(question)} characters long; at most {self.max_query_chars} are allowed "
                "(max_query_chars)",
                field="question",
                length=len(question),
                max_length=self.max_query_chars,
            )
        return question.strip()

    def _check_mode(self, mode: str) -> SearchMode:
        if mode not in SEARCH_MODES:
            raise ValidationError(
                f"mode must be one of {', '.join(SEARCH_MODES)}; got {mode!r}", field="mode"
            )
        return mode  # type: ignore[return-value]

    def _check_top_k(self, top_k: int | None) -> int:
        value = self.top_k if top_k is None else top_k
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise ValidationError(f"top_k must be an integer in 1..100, got {value!r}", field="top_k")
        return value

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
        """
        question = self._check_question(question)
        search_mode = self._check_mode(mode)
        k = self._check_top_k(top_k)
        check_filters(filters)  # refused before any model call is paid for
        rewritten = await self._rewrite(question, ())
        sources, _, flagged = await self._search(
            rewritten, top_k=k, mode=search_mode, filters=filters, guard=guarded
        )
        return [
            s.model_copy(update={"title": f"{FLAG} {s.title}".rstrip()}) if s.chunk_id in flagged else s
            for s in sources
        ]

    async def _rewrite(self, question: str, history: Sequence[str]) -> RewrittenQuery:
        if not self.enable_query_rewriting:
            return RewrittenQuery(original=question, dense=question, keyword=question)
        return await self.rewriter.rewrite(question, history, tenant=self.tenant)

    async def _search(
        self,
        query: RewrittenQuery,
        *,
        top_k: int,
        mode: SearchMode,
        filters: MetadataFilter | None,
        guard: bool = False,
    ) -> tuple[list[Source], dict[str, float], set[str]]:
        """The ``top_k`` best sources, the search's embedding usage, and the flagged chunk ids.

        With ``guard`` the sources pass :meth:`_guard` before any model sees them (before an LLM
        re-ranker, else at the end).
        """
        usage = {"tokens": 0.0, "cost": 0.0}
        pool = self.candidate_pool or max(4 * top_k, 20)
        if self.enable_reranking:
            pool = max(pool, self.rerank_candidates)
        vector: tuple[float, ...] | None = None

        async def dense() -> list[SearchHit]:
            nonlocal vector
            if mode == "keyword":
                return []
            response = await self._gateway.embed(
                [query.dense], tenant=self.tenant, model=self.embedding_model
            )
            vector = response.vectors[0]
            usage["tokens"] += response.usage.input_tokens
            usage["cost"] += response.cost_usd
            return await self._vectors.dense_search(self.tenant, vector, top_k=pool, filters=filters)

        async def keyword() -> list[SearchHit]:
            if mode == "dense":
                return []
            return await self._vectors.keyword_search(self.tenant, query.keyword, top_k=pool, filters=filters)

        # The keyword search needs no embedding: it runs (on its own pooled connection) while the
        # query is embedded and the dense search runs on another.
        dense_hits, keyword_hits = await asyncio.gather(dense(), keyword())
        candidates: dict[str, Source] = {}
        for rank, hit in enumerate(dense_hits, start=1):
            candidates[hit.record.id] = _source(
                hit.record, score=hit.score, dense_score=hit.score, dense_rank=rank
            )
        for rank, hit in enumerate(keyword_hits, start=1):
            existing = candidates.get(hit.record.id)
            if existing is not None:
                candidates[hit.record.id] = existing.model_copy(
                    update={"keyword_score": hit.score, "keyword_rank": rank}
                )
            else:
                dense_score = cosine(vector, hit.record.embedding) if vector is not None else None
                candidates[hit.record.id] = _source(
                    hit.record,
                    score=hit.score,
                    dense_score=dense_score,
                    keyword_score=hit.score,
                    keyword_rank=rank,
                )
        vectors = {hit.record.id: hit.record.embedding for hit in [*dense_hits, *keyword_hits]}
        if mode != "keyword":
            # In hybrid mode a chunk among the top_k keyword hits stays even when its cosine is
            # below the threshold: strong lexical evidence (ITSM jargon such as "S: drive" or
            # "change freeze") is what small embedding models miss.
            candidates = {
                cid: c
                for cid, c in candidates.items()
                if passes_threshold(c.dense_score, self.similarity_threshold)
                or (mode == "hybrid" and c.keyword_rank is not None and c.keyword_rank <= top_k)
            }
        if mode == "hybrid":
            dense_ids = [h.record.id for h in dense_hits if h.record.id in candidates]
            keyword_ids = [h.record.id for h in keyword_hits if h.record.id in candidates]
            fused = reciprocal_rank_fusion(
                [dense_ids, keyword_ids], k=self.rrf_k, weights=self.fusion_weights
            )
            ranked = [candidates[item.key].model_copy(update={"score": item.score}) for item in fused]
        else:
            ranked = list(candidates.values())
        flagged: set[str] = set()
        guard_early = guard and self.enable_reranking and isinstance(self.reranker, LLMReranker)
        if guard_early:
            ranked, flagged = await self._guard(ranked)
        if self.enable_reranking and ranked:
            head = ranked[: self.rerank_candidates]
            ranked = (
                await self.reranker.rerank(query.dense, head, tenant=self.tenant)
                + ranked[self.rerank_candidates :]
            )
        if self.use_mmr and len(ranked) > top_k:
            chosen = maximal_marginal_relevance(
                [s.score for s in ranked],
                [vectors[s.chunk_id] for s in ranked],
                top_k=top_k,
                lambda_mult=self.mmr_lambda,
            )
            ranked = [ranked[i] for i in chosen]
        if guard and not guard_early:
            chosen_sources, flagged = await self._guard(ranked[:top_k])
            return chosen_sources, usage, flagged
        return ranked[:top_k], usage, flagged

    async def _guard(self, sources: Sequence[Source]) -> tuple[list[Source], set[str]]:
        """Sources as a prompt may quote them: PII redacted, injection-like ones dropped or flagged.

        Title and text are both untrusted; a source is dropped or flagged when either is.
        """
        checked = await self._gateway.guard_context(
            [part for s in sources for part in (s.title, s.text)],
            tenant=self.tenant,
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
        return kept, flagged

    # -- answering -----------------------------------------------------------------------------------

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
        """
        with self._span("rag.query") as span:
            question = self._check_question(question)
            search_mode = self._check_mode(mode)
            k = self._check_top_k(top_k)
            check_filters(filters)  # refused before any model call is paid for
            if conversation_id is not None and (
                not isinstance(conversation_id, str)
                or not 0 < len(conversation_id) <= MAX_CONVERSATION_ID_LENGTH
            ):
                raise ValidationError(
                    f"conversation_id must be 1..{MAX_CONVERSATION_ID_LENGTH} characters",
                    field="conversation_id",
                )
            if await self._documents.count(self.tenant) == 0:
                raise KnowledgeBaseEmpty(
                    f"tenant {self.tenant.tenant_id!r} has no documents: ingest some first "
                    f"(motadata-ai ingest --tenant {self.tenant.tenant_id} PATH)",
                    field="tenant_id",
                    tenant_id=self.tenant.tenant_id,
                )
            history: list[ConversationTurn] = []
            if (
                self.enable_memory
                and conversation_id
                and self._conversations is not None
                and self.memory_turns
            ):
                history = await self._conversations.history(
                    self.tenant, conversation_id, limit=self.memory_turns
                )
            before = self._model_usage()
            rewritten = await self._rewrite(question, [t.question for t in history])
            sources, search_usage, flagged = await self._search(
                rewritten, top_k=k, mode=search_mode, filters=filters, guard=True
            )
            input_tokens = int(search_usage["tokens"])
            output_tokens = 0
            cost = search_usage["cost"]
            if sources:
                context = build_context(
                    sources,
                    budget_tokens=self.max_context_tokens,
                    count_tokens=self.count_tokens,
                    instructions=self.instructions,
                    flagged=flagged,
                )
                messages: list[Message] = [Message(role="system", content=context.system_prompt)]
                for turn in history:
                    messages.append(Message(role="user", content=turn.question))
                    messages.append(Message(role="assistant", content=turn.answer))
                messages.append(Message(role="user", content=question))
                response = await self._generate(
                    ChatRequest(model=self.llm_model, messages=tuple(messages), temperature=0.0), self.tenant
                )
                answer = response.text.strip()
                cited = mark_cited(context.sources, answer)
                input_tokens += response.usage.input_tokens
                output_tokens += response.usage.output_tokens
                cost += response.cost_usd
            else:
                answer, cited = NO_CONTEXT_ANSWER, ()
            after = self._model_usage()
            input_tokens += after[0] - before[0]
            output_tokens += after[1] - before[1]
            cost += after[2] - before[2]
            if self.enable_memory and conversation_id and self._conversations is not None:
                await self._conversations.append(
                    self.tenant,
                    ConversationTurn(
                        tenant_id=self.tenant.tenant_id,
                        conversation_id=conversation_id,
                        user_id=user_id or self.tenant.user_id,
                        question=question,
                        answer=answer,
                        rewritten_query=rewritten.dense if rewritten.changed else None,
                        source_ids=tuple(s.chunk_id for s in cited if s.cited),
                    ),
                )
            trace_id = (span.trace_id if span else "") or uuid.uuid4().hex
            if span:
                span.set_attribute("rag.sources", len(cited))
                span.set_attribute("rag.mode", search_mode)
            return RAGResponse(
                answer=answer,
                sources=tuple(cited),
                question=question,
                rewritten_query=rewritten.keyword if rewritten.changed else None,
                conversation_id=conversation_id,
                model=self.llm_model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=cost,
                trace_id=trace_id,
                mode=search_mode,
            )

    async def _generate(self, request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        return await self._gateway.generate(request, tenant=tenant)

    def _model_usage(self) -> tuple[int, int, float]:
        input_tokens = output_tokens = 0
        cost = 0.0
        if isinstance(self.rewriter, LLMQueryRewriter):
            input_tokens += self.rewriter.usage.input_tokens
            output_tokens += self.rewriter.usage.output_tokens
            cost += self.rewriter.usage.cost_usd
        if isinstance(self.reranker, LLMReranker):
            input_tokens += self.reranker.input_tokens
            output_tokens += self.reranker.output_tokens
            cost += self.reranker.cost_usd
        return input_tokens, output_tokens, cost

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
            _positive("limit", limit)
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

    async def delete_user_documents(
        self, user_id: str, tenant_id: str | None = None
    ) -> UserDocumentsDeletion:
        """Erase every document (with its chunks) and conversation turn of ``user_id``."""
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

    async def export_user_documents(self, user_id: str, tenant_id: str | None = None) -> UserDocumentsExport:
        """Every stored version of ``user_id``'s documents and all of their conversation turns."""
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

    @contextlib.contextmanager
    def _span(self, name: str) -> Iterator[SpanHandle | None]:
        if self._telemetry is None:
            yield None
            return
        with self._telemetry.span(name, attributes={"tenant.id": self.tenant.tenant_id}) as span:
            yield span


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a positive integer, got {value!r}", field=name)


def _parse_options(value: object) -> ParseOptions:
    if value is None:
        return ParseOptions()
    if not isinstance(value, ParseOptions):
        raise ValidationError(
            f"parsing must be a ParseOptions, got {type(value).__name__}", field="parsing"
        )
    return value


def _failure(source: str, error: MotadataError) -> IngestFailure:
    return IngestFailure(source=source, error=type(error).__name__, message=str(error))


def _source(record: VectorRecord, **scores: Any) -> Source:
    metadata = dict(record.metadata)
    return Source(
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
