"""Ingestion: sources → chunked, embedded document versions, each written whole in one transaction.

:class:`Ingestion` runs one ingest: the :class:`~motadata_ai.domain.retrieval.loading.DocumentLoader`
yields checked Documents; a document whose content hash matches its stored version is left alone;
a changed one is chunked into a new version; pending versions are embedded in batches through the
gateway and each is written with :meth:`DocumentStorePort.write_version` (row, version and chunks
in one transaction, serialised per document, version compare-and-set). The three steps overlap
(:mod:`~motadata_ai.domain.retrieval.stages`): while one window of versions is embedded, the next
is loaded and chunked and the last one written, with at most :data:`WINDOWS_AHEAD` windows
waiting between two steps, so the model never waits on parsing or the database. A lost race is settled
without re-embedding: the same content is ``unchanged``, other content becomes the next version.
The counts of a run (documents, failures, chunks, the embedding usage) live in one small
:class:`~motadata_ai.domain.retrieval.ingest_run.IngestRun` that ends as the :class:`IngestReport`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from motadata_ai.domain.retrieval.chunking import Chunk, Chunker
from motadata_ai.domain.retrieval.gateway import GatewayLike
from motadata_ai.domain.retrieval.hashing import chunk_id, content_hash, normalise_text
from motadata_ai.domain.retrieval.ingest_run import EmbeddedBatch, IngestRun, Prepared, ProgressCallback
from motadata_ai.domain.retrieval.loading import DocumentLoader, IngestSource, Item
from motadata_ai.domain.retrieval.stages import Handoff, run_stages
from motadata_ai.domain.retrieval.usage import NO_USAGE, ModelUsage
from motadata_ai.domain.values.documents import Document, IngestReport, StoredDocument
from motadata_ai.domain.values.errors import MotadataError, NotFound, ValidationError
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.documents import DocumentRejected, DocumentStorePort, EmptyDocument, VersionConflict
from motadata_ai.ports.vector_store import VectorStorePort

MAX_WRITE_ATTEMPTS = 16
"""How often one ingest re-bases its version on a concurrent writer's before it reports the conflict."""

WINDOW_CALLS = 4
"""Embedding calls' worth of chunks per window: a window's texts are sorted by length together, so
each call holds texts of similar length, and the first step hands the next steps whole windows."""
WINDOWS_AHEAD = 2
"""Windows waiting between two steps at most (then the step before waits: back-pressure)."""
WRITES_AT_ONCE = 4
"""Versions of one window written at once, each in its own transaction on its own connection: a
version's write is some fifteen short statements, so one at a time the step waited on round trips
(a window's documents are distinct, so no two of these writes touch one document)."""

class Ingestion:
    """Ingests sources into one tenant's stores (see the module doc)."""

    def __init__(
        self,
        *,
        gateway: GatewayLike,
        documents: DocumentStorePort,
        vector_store: VectorStorePort,
        loader: DocumentLoader,
        tenant: TenantContext,
        chunker: Chunker,
        embedding_model: str,
        embed_batch_size: int,
        parsing: ParseOptions,
    ) -> None:
        self._gateway = gateway
        self._documents = documents
        self._vectors = vector_store
        self.loader = loader
        self.tenant = tenant
        self.chunker = chunker
        self.embedding_model = embedding_model
        self.embed_batch_size = embed_batch_size
        self.parsing = parsing

    @property
    def settings(self) -> dict[str, Any]:
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
        """Ingest ``source``: see :meth:`RAGSystem.ingest <motadata_ai.domain.retrieval.RAGSystem.ingest>`."""
        items = await self.loader.expand(source)
        run = IngestRun(total=len(items), single=await self.loader.is_single(source), progress=progress)
        if progress:
            progress(0, run.total, "")
        options = self.parsing if parsing is None else parse_options(parsing)
        to_embed: Handoff[list[Prepared]] = Handoff(WINDOWS_AHEAD)
        to_write: Handoff[EmbeddedBatch] = Handoff(WINDOWS_AHEAD)
        in_flight: dict[str, asyncio.Event] = {}
        await run_stages(
            self._prepare_all(
                items, run, to_embed, in_flight, user_id=user_id, metadata=metadata, parsing=options
            ),
            self._embed_all(to_embed, to_write),
            self._write_all(to_write, run, in_flight),
        )
        return run.report(self.tenant.tenant_id)

    async def _prepare_all(
        self,
        items: list[Item],
        run: IngestRun,
        out: Handoff[list[Prepared]],
        in_flight: dict[str, asyncio.Event],
        *,
        user_id: str | None,
        metadata: dict[str, Any] | None,
        parsing: ParseOptions,
    ) -> None:
        """The first step: load, check and chunk each source; hand windows of changed versions on.

        An unchanged document is recorded at once. A document already on its way through the
        later steps is prepared only once that version is written (one version of a document at a
        time): the window holding it is handed on first.
        """
        window: list[Prepared] = []
        chunks = 0
        async for name, document, more in self.loader.load_each(
            items, user_id=user_id, metadata=metadata, parsing=parsing
        ):
            run.total += more
            try:
                if isinstance(document, MotadataError):
                    raise document
                earlier = in_flight.get(document.id)
                if earlier is not None:
                    if any(p.document.id == document.id for p in window):
                        await out.put(window)
                        window, chunks = [], 0
                    await earlier.wait()
                prepared = await self._prepare(document)
            except MotadataError as error:
                if run.single or not isinstance(error, DocumentRejected | NotFound):
                    raise
                run.failed(name, error)
                continue
            if isinstance(prepared, StoredDocument):  # the stored version already has this content
                run.stored(name, prepared, "unchanged")
                continue
            in_flight[document.id] = asyncio.Event()
            window.append(prepared)
            chunks += len(prepared.chunks)
            if chunks >= self.embed_batch_size * WINDOW_CALLS:
                await out.put(window)
                window, chunks = [], 0
        if window:
            await out.put(window)
        await out.close()

    async def _embed_all(self, windows: Handoff[list[Prepared]], out: Handoff[EmbeddedBatch]) -> None:
        """The second step: embed each window (while the first prepares the next and the third
        writes the last)."""
        async for window in windows:
            await out.put(await self._embed(window))
        await out.close()

    async def _write_all(
        self, batches: Handoff[EmbeddedBatch], run: IngestRun, in_flight: dict[str, asyncio.Event]
    ) -> None:
        """The last step: write each embedded version (one transaction each, ``WRITES_AT_ONCE``
        at a time) and record its outcome, in the window's order."""
        slots = asyncio.Semaphore(WRITES_AT_ONCE)

        async def write(prepared: Prepared) -> MotadataError | None:
            async with slots:
                return await self._write(prepared)

        async for embedded in batches:
            run.usage = run.usage + embedded.usage
            if embedded.error is not None:
                errors: list[MotadataError | None] = [embedded.error] * len(embedded.batch)
            else:
                errors = list(await asyncio.gather(*(write(p) for p in embedded.batch)))
            outcomes = list(zip(embedded.batch, errors, strict=True))
            for prepared, _ in outcomes:  # a later version of the same document may be prepared now
                done = in_flight.pop(prepared.document.id, None)
                if done is not None:
                    done.set()
            for prepared, error in outcomes:  # every version is written before a single source raises
                name = prepared.document.source or prepared.document.id
                if error is None:
                    if not prepared.unchanged:
                        run.chunks += len(prepared.chunks)
                    run.stored(name, prepared.stored, prepared.action)
                elif run.single:
                    raise error
                else:
                    run.failed(name, error)

    async def _prepare(self, document: Document) -> Prepared | StoredDocument:
        """The document's next version, chunked; the stored version itself when it has this
        content (read once, so a concurrent delete cannot make it vanish between two reads)."""
        digest = content_hash(document, settings=self.settings)
        previous = await self._documents.get(self.tenant, document.id)
        if previous is not None and previous.content_hash == digest:
            return previous
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
            chunk_ids=self._chunk_ids(document.id, version, chunks),
            token_count=sum(c.tokens for c in chunks),
        )
        return Prepared(document=document, stored=stored, chunks=chunks, previous=previous)

    def _chunk_ids(self, document_id: str, version: int, chunks: Sequence[Chunk]) -> tuple[str, ...]:
        return tuple(chunk_id(self.tenant.tenant_id, document_id, version, c.index) for c in chunks)

    async def _embed(self, batch: list[Prepared]) -> EmbeddedBatch:
        """Every chunk of ``batch`` embedded, ``embed_batch_size`` texts a call; a failure fails the batch.

        The texts are sorted by length first, so each call holds texts of similar length (a
        model pads a call to its longest text); the vectors are put back in the chunks' order.
        """
        texts = [embedding_text(p.stored.title, c) for p in batch for c in p.chunks]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[tuple[float, ...]] = [()] * len(texts)
        usage = NO_USAGE
        try:
            for start in range(0, len(order), self.embed_batch_size):
                chosen = order[start : start + self.embed_batch_size]
                part = [texts[i] for i in chosen]
                # bulk ingestion waits for the tenant's rate limit instead of failing half-way
                response = await self._gateway.embed(
                    part, tenant_id=self.tenant, model=self.embedding_model, wait=True, purpose="ingestion"
                )
                if len(response.vectors) != len(part):
                    raise ValidationError(
                        f"embedding model {self.embedding_model} returned {len(response.vectors)} vectors "
                        f"for {len(part)} texts",
                        field="embeddings",
                        model=self.embedding_model,
                    )
                for index, vector in zip(chosen, response.vectors, strict=True):
                    vectors[index] = vector
                usage = usage + ModelUsage.of_embedding(response)
        except MotadataError as error:
            return EmbeddedBatch(batch=batch, usage=usage, error=error)
        position = 0
        for prepared in batch:
            prepared.vectors = vectors[position : position + len(prepared.chunks)]
            position += len(prepared.chunks)
        return EmbeddedBatch(batch=batch, usage=usage)

    async def _write(self, prepared: Prepared) -> MotadataError | None:
        """Write the prepared version whole (one transaction); the error when it could not be.

        On :class:`VersionConflict` another ingest of the same document committed first: when it
        stored this very content the ingest is ``unchanged``, otherwise this version is re-based
        on the winner's (next version number, new chunk ids) and written again, without
        re-embedding.
        """
        try:
            for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
                stored = prepared.stored
                try:
                    await self._documents.write_version(
                        self.tenant, stored, self._records(prepared), vectors=self._vectors
                    )
                    return None
                except VersionConflict:
                    current = await self._documents.get(self.tenant, stored.document_id)
                    if current is not None and current.content_hash == stored.content_hash:
                        prepared.stored, prepared.unchanged = current, True
                        return None
                    if attempt == MAX_WRITE_ATTEMPTS:
                        raise
                    self._rebase(prepared, current)
        except MotadataError as error:
            return error
        return None  # pragma: no cover - the loop returns or raises

    def _rebase(self, prepared: Prepared, current: StoredDocument | None) -> None:
        version = current.version + 1 if current else 1
        prepared.previous = current
        prepared.stored = prepared.stored.model_copy(
            update={
                "version": version,
                "chunk_ids": self._chunk_ids(prepared.stored.document_id, version, prepared.chunks),
            }
        )

    def _records(self, prepared: Prepared) -> list[VectorRecord]:
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


def embedding_text(title: str, chunk: Chunk) -> str:
    """What is embedded for a chunk: its text, led by the document's title unless it starts with it."""
    if title and title.lower() not in chunk.text[: len(title) + 20].lower():
        return f"{title}\n{chunk.text}"
    return chunk.text


def parse_options(value: object) -> ParseOptions:
    """``value`` as :class:`ParseOptions` (``None``: the defaults), else :class:`ValidationError`."""
    if value is None:
        return ParseOptions()
    if not isinstance(value, ParseOptions):
        raise ValidationError(f"parsing must be a ParseOptions, got {type(value).__name__}", field="parsing")
    return value
