"""The ingest pipeline's steps overlap, stay bounded, and keep one version of a document at a time.

In-memory stores and hashed embeddings, with gates that make a step wait on another: while the
first window is embedded the next one is prepared, and while the first window is written the
next one is embedded (a sequential ingest waits forever on either gate, so the gate times out
and the test fails). The preparing step never runs more than the queues hold ahead of the
model, the same document twice in one ingest becomes two versions in order, and a step's
failure ends the ingest with that step's SDK error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.retrieval.ingestion import WINDOW_CALLS, WINDOWS_AHEAD, WRITES_AT_ONCE
from motadata_ai.domain.values.documents import Document, StoredDocument
from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.documents import DocumentStoreUnavailable
from motadata_ai.ports.vector_store import VectorStorePort

pytestmark = pytest.mark.faults

GATE_SECONDS = 5.0
A = TenantContext(tenant_id="acme")


class WatchedDocuments(InMemoryDocumentStore):
    """Records which documents were looked up (prepared) and written; can hold the first write."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[str] = []
        self.written: list[str] = []
        self.first_write_waits_for: asyncio.Event | None = None
        self.write_started: dict[str, asyncio.Event] = {}
        self.writing = 0
        self.most_writing = 0
        self.fail_lookups = False
        self.seen: dict[str, asyncio.Event] = {}

    async def get(self, tenant: TenantContext, document_id: str) -> StoredDocument | None:
        if self.fail_lookups and document_id == "doc-05":
            raise DocumentStoreUnavailable("store down", address="postgresql://x:***@h/db")
        self.looked_up.append(document_id)
        self.seen.setdefault(document_id, asyncio.Event()).set()
        return await super().get(tenant, document_id)

    async def write_version(
        self,
        tenant: TenantContext,
        document: StoredDocument,
        chunks: Sequence[VectorRecord],
        *,
        vectors: VectorStorePort,
    ) -> StoredDocument:
        self.write_started.setdefault(document.document_id, asyncio.Event()).set()
        self.writing += 1
        self.most_writing = max(self.most_writing, self.writing)
        try:
            gate, self.first_write_waits_for = self.first_write_waits_for, None
            if gate is not None:
                await asyncio.wait_for(gate.wait(), GATE_SECONDS)
            stored = await super().write_version(tenant, document, chunks, vectors=vectors)
        finally:
            self.writing -= 1
        self.written.append(document.document_id)
        return stored


class GatedEmbeddings(HashEmbeddings):
    """Hashed embeddings; the first call can wait for an event, and each call is recorded."""

    def __init__(self, documents: WatchedDocuments) -> None:
        super().__init__(dimensions=32)
        self.documents = documents
        self.calls: list[tuple[str, ...]] = []
        self.first_call_waits_for: asyncio.Event | None = None
        self.call_started = asyncio.Event()
        self.looked_up_during_first_call: int | None = None

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        self.calls.append(tuple(request.inputs))
        if len(self.calls) > WINDOW_CALLS:  # a call of the second window
            self.call_started.set()
        gate, self.first_call_waits_for = self.first_call_waits_for, None
        if gate is not None:
            await asyncio.wait_for(gate.wait(), GATE_SECONDS)
            for _ in range(200):  # let every other step run as far as it can
                await asyncio.sleep(0)
            self.looked_up_during_first_call = len(self.documents.looked_up)
        return await super().embed(request, timeout=timeout)


def make(documents: WatchedDocuments, embeddings: GatedEmbeddings) -> RAGSystem:
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "unused"),
        embeddings=embeddings,
        config=GatewayConfig(
            default_embedding_model="hash", max_retries=0, requests_per_minute=0, enable_caching=False
        ),
    )
    return RAGSystem(
        gateway=gateway,
        vector_store=InMemoryVectorStore(dimensions=32),
        documents=documents,
        tenant=A,
        config=RAGConfig(embed_batch_size=1, enable_memory=False, similarity_threshold=0.0),
    )


def corpus(n: int) -> list[Document]:
    return [
        Document(id=f"doc-{i:02d}", title=f"Article {i}", text=f"Topic {i} in a short text.")
        for i in range(n)
    ]


async def test_the_next_window_is_prepared_while_one_is_embedded() -> None:
    documents = WatchedDocuments()
    embeddings = GatedEmbeddings(documents)
    # the first call waits until the first document of the second window is being prepared
    embeddings.first_call_waits_for = documents.seen.setdefault(f"doc-{WINDOW_CALLS:02d}", asyncio.Event())
    report = await make(documents, embeddings).ingest(corpus(12))
    assert (report.created, len(report.failures), report.chunks) == (12, 0, 12)


async def test_the_next_window_is_embedded_while_one_is_written() -> None:
    documents = WatchedDocuments()
    embeddings = GatedEmbeddings(documents)
    documents.first_write_waits_for = embeddings.call_started  # a call of the second window
    report = await make(documents, embeddings).ingest(corpus(12))
    assert (report.created, len(report.failures)) == (12, 0)
    assert sorted(documents.written) == [d.id for d in corpus(12)]


async def test_the_versions_of_one_window_are_written_at_once_and_recorded_in_order() -> None:
    documents = WatchedDocuments()
    embeddings = GatedEmbeddings(documents)
    # the first version's write waits until the window's second version is being written
    documents.first_write_waits_for = documents.write_started.setdefault("doc-01", asyncio.Event())
    report = await make(documents, embeddings).ingest(corpus(12))
    assert (report.created, len(report.failures)) == (12, 0)
    assert 2 <= documents.most_writing <= WRITES_AT_ONCE
    assert [item.document_id for item in report.documents] == [d.id for d in corpus(12)]


async def test_preparing_runs_ahead_of_the_model_only_as_far_as_the_queues_hold() -> None:
    documents = WatchedDocuments()
    embeddings = GatedEmbeddings(documents)
    opened = asyncio.Event()
    opened.set()
    embeddings.first_call_waits_for = opened
    report = await make(documents, embeddings).ingest(corpus(60))
    assert report.created == 60
    # the window being embedded, WINDOWS_AHEAD queued, and the one waiting to be queued
    bound = WINDOW_CALLS * (1 + WINDOWS_AHEAD + 1)
    assert embeddings.looked_up_during_first_call is not None
    assert WINDOW_CALLS < embeddings.looked_up_during_first_call <= bound


async def test_one_document_twice_in_one_ingest_becomes_two_versions_in_order() -> None:
    documents = WatchedDocuments()
    embeddings = GatedEmbeddings(documents)
    first = Document(id="dup", title="Dup", text="The first text.")
    second = Document(id="dup", title="Dup", text="The second text, changed.")
    report = await make(documents, embeddings).ingest([first, *corpus(6), second])
    assert (report.created, report.updated, len(report.failures)) == (7, 1, 0)
    assert [v.version for v in await documents.versions(A, "dup")] == [1, 2]
    stored = await documents.get(A, "dup")
    assert stored is not None and "second" in stored.text


async def test_a_failing_step_ends_the_ingest_with_its_error_and_nothing_half_written() -> None:
    documents = WatchedDocuments()
    documents.fail_lookups = True
    embeddings = GatedEmbeddings(documents)
    with pytest.raises(DocumentStoreUnavailable):
        await make(documents, embeddings).ingest(corpus(12))
    for document_id in documents.written:  # whatever was written is whole: row and chunks
        stored = await documents.get(A, document_id)
        assert stored is not None and len(stored.chunk_ids) == 1
