"""RAGSystem with in-memory stores, hashed embeddings and a scripted model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.adapters.parsers import FileDocumentParser
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import NO_CONTEXT_ANSWER, KnowledgeBaseEmpty, RAGConfig, RAGSystem
from motadata_ai.domain.values.documents import Document, StoredDocument
from motadata_ai.domain.values.errors import InvalidTenant, ServiceError, ValidationError
from motadata_ai.domain.values.llm import (
    EXTRACTIVE_CAPABILITIES,
    ChatRequest,
    EmbeddingRequest,
    EmbeddingResponse,
)
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.documents import (
    DocumentStoreUnavailable,
    DocumentTooLarge,
    EmptyDocument,
    UndecodableDocument,
    UnsupportedDocumentType,
)
from motadata_ai.ports.llm import ProviderUnavailable
from motadata_ai.ports.vector_store import VectorStorePort

PASSWORD = "# Password reset\n\nOpen the self-service portal and choose reset password. Confirm with MFA."
VPN = "# VPN\n\nInstall the GlobalConnect VPN client and sign in with your network password."
PRINTER = "# Printing\n\nPrint to the FollowMe queue and tap your badge at any printer."


class FlakyEmbeddings(HashEmbeddings):
    """Hashed embeddings that fail while ``failing`` is set."""

    def __init__(self) -> None:
        super().__init__(dimensions=64)
        self.failing = False

    async def embed(
        self,
        request: EmbeddingRequest,
        *,
        timeout: float | None = None,
    ) -> EmbeddingResponse:
        if self.failing:
            raise ProviderUnavailable("embedding server down", model=request.model)
        return await super().embed(request, timeout=timeout)


class FailingVersions(InMemoryDocumentStore):
    """A document store whose version writes fail while ``failing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    async def write_version(
        self,
        tenant: TenantContext,
        document: StoredDocument,
        chunks: Sequence[VectorRecord],
        *,
        vectors: VectorStorePort,
    ) -> StoredDocument:
        if self.failing:
            raise DocumentStoreUnavailable("store down", address="postgresql://x:***@h/db")
        return await super().write_version(tenant, document, chunks, vectors=vectors)


def answer_citing_first(request: ChatRequest) -> str:
    system = request.messages[0].content or ""
    first = next(line for line in system.splitlines() if line.startswith("[1] "))
    return f"{first.split(': ', 1)[1][:60]} [1]"


def make(
    tenant: str = "acme",
    *,
    vectors: InMemoryVectorStore | None = None,
    documents: InMemoryDocumentStore | None = None,
    embeddings: HashEmbeddings | None = None,
    llm: FunctionLLM | None = None,
    **options: Any,
) -> tuple[RAGSystem, dict[str, Any]]:
    embeddings = embeddings or FlakyEmbeddings()
    llm = llm or FunctionLLM(answer_citing_first, capabilities=EXTRACTIVE_CAPABILITIES)
    vectors = vectors or InMemoryVectorStore(dimensions=64)
    documents = documents or InMemoryDocumentStore()
    gateway = Gateway(
        llm=llm,
        embeddings=embeddings,
        config=GatewayConfig(
            default_model="local/extractive",
            default_embedding_model="hash",
            max_retries=0,
            requests_per_minute=0,
            enable_caching=False,
        ),
    )
    options.setdefault("similarity_threshold", 0.0)
    tunables = {name: options.pop(name) for name in list(options) if name in RAGConfig.model_fields}
    rag = RAGSystem(
        gateway=gateway,
        vector_store=vectors,
        documents=documents,
        tenant=tenant,
        config=RAGConfig(**tunables),
        parser=FileDocumentParser(),
        **options,
    )
    return rag, {"llm": llm, "embeddings": embeddings, "vectors": vectors, "documents": documents}


def kb(tmp_path: Path) -> Path:
    (tmp_path / "password.md").write_text(PASSWORD)
    (tmp_path / "vpn.md").write_text(VPN)
    (tmp_path / "printing.md").write_text(PRINTER)
    return tmp_path


async def snapshot(parts: dict[str, Any], tenant: str = "acme") -> tuple[Any, ...]:
    t = TenantContext(tenant_id=tenant)
    docs = await parts["documents"].list(t)
    ids = [cid for d in docs for cid in d.chunk_ids]
    records = await parts["vectors"].get(t, ids)
    return (
        [(d.document_id, d.version, d.content_hash) for d in docs],
        sorted((r.id, r.text) for r in records),
        await parts["vectors"].count(t),
    )


async def test_ingest_directory_then_answer_with_cited_sources(tmp_path: Path) -> None:
    telemetry = RecordingTelemetry()
    rag, parts = make(telemetry=telemetry)
    report = await rag.ingest(kb(tmp_path))
    assert report.ok and report.created == 3 and report.chunks == 3
    response = await rag.query("How do I reset my password?")
    assert response.sources[0].title == "Password reset"
    assert response.sources[0].cited and response.sources[0].citation == 1
    assert response.cited_sources[0].document_id == str(tmp_path / "password.md")
    assert response.answer.endswith("[1]")
    assert response.input_tokens > 0 and response.output_tokens > 0
    (root,) = [span for span in telemetry.spans if span.name == "rag.query"]
    assert len(response.trace_id) == 32 and response.trace_id == root.trace_id
    request = parts["llm"].calls[-1]
    assert request.model == "local/extractive"
    assert request.messages[-1].content == "How do I reset my password?"
    assert "[1] Password reset: Open the self-service portal" in (request.messages[0].content or "")


async def test_embeddings_are_batched_through_the_gateway(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"doc{i}.txt").write_text(f"Article {i} about topic {i}.")
    rag, parts = make(embed_batch_size=4)
    report = await rag.ingest(tmp_path)
    assert report.created == 10
    sizes = [len(call.inputs) for call in parts["embeddings"].calls]
    assert sizes and max(sizes) <= 4 and sum(sizes) == 10 and len(sizes) <= 4


async def test_unchanged_documents_are_skipped_and_changed_ones_replaced(tmp_path: Path) -> None:
    rag, parts = make()
    await rag.ingest(kb(tmp_path))
    calls = len(parts["embeddings"].calls)
    again = await rag.ingest(tmp_path)
    assert again.unchanged == 3 and again.chunks == 0
    assert len(parts["embeddings"].calls) == calls
    (tmp_path / "vpn.md").write_text(VPN + "\n\nThe client reconnects automatically.")
    changed = await rag.ingest(tmp_path)
    assert (changed.unchanged, changed.updated) == (2, 1)
    vpn = next(d for d in changed.documents if d.action == "updated")
    assert vpn.version == 2
    t = TenantContext(tenant_id="acme")
    assert await parts["vectors"].count(t) == 3
    records = await parts["vectors"].get(
        t, list((await parts["documents"].get(t, vpn.document_id)).chunk_ids)
    )
    assert all(r.version == 2 for r in records) and "reconnects" in records[0].text
    assert [v.version for v in await parts["documents"].versions(t, vpn.document_id)] == [1, 2]


async def test_a_failed_embedding_leaves_the_store_exactly_as_before(tmp_path: Path) -> None:
    rag, parts = make()
    await rag.ingest(kb(tmp_path))
    before = await snapshot(parts)
    (tmp_path / "vpn.md").write_text(VPN + " Changed.")
    parts["embeddings"].failing = True
    with pytest.raises(ServiceError):
        await rag.ingest(tmp_path / "vpn.md")
    assert await snapshot(parts) == before


async def test_a_failed_version_write_keeps_the_old_version_whole(tmp_path: Path) -> None:
    documents = FailingVersions()
    rag, parts = make(documents=documents)
    await rag.ingest(kb(tmp_path))
    before = await snapshot(parts)
    (tmp_path / "vpn.md").write_text(VPN + " Changed.")
    (tmp_path / "new.md").write_text("# New\n\nBrand new article.")
    documents.failing = True
    report = await rag.ingest(tmp_path)
    assert {f.error for f in report.failures} == {"DocumentStoreUnavailable"} and len(report.failures) == 2
    assert await snapshot(parts) == before


async def test_one_bad_file_is_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    kb(tmp_path)
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage\xff")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 au lait")
    (tmp_path / "empty.md").write_text("   \n\n  ")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "big.txt").write_text("x " * 600)
    rag, _ = make(max_document_bytes=1000)
    report = await rag.ingest(tmp_path)
    assert report.created == 3
    failures = {Path(f.source).name: f.error for f in report.failures}
    assert failures == {
        "binary.txt": "UndecodableDocument",
        "latin1.txt": "UndecodableDocument",
        "empty.md": "EmptyDocument",
        "image.png": "UnsupportedDocumentType",
        "big.txt": "DocumentTooLarge",
    }
    assert all(Path(f.source).name in f.message for f in report.failures)


async def test_a_single_bad_file_raises_an_error_naming_it(tmp_path: Path) -> None:
    rag, parts = make(max_document_bytes=100)
    bad = tmp_path / "notes.odt"
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedDocumentType) as caught:
        await rag.ingest(bad)
    assert "notes.odt" in str(caught.value) and caught.value.source == str(bad)
    big = tmp_path / "big.md"
    big.write_text("word " * 100)
    with pytest.raises(DocumentTooLarge) as too_large:
        await rag.ingest(big)
    assert too_large.value.field == "max_document_bytes" and "big.md" in str(too_large.value)
    assert await parts["documents"].count(TenantContext(tenant_id="acme")) == 0


async def test_in_memory_documents_are_validated() -> None:
    rag, _ = make(max_document_bytes=50)
    with pytest.raises(EmptyDocument) as empty:
        await rag.ingest(Document(id="blank", text=" \n\t "))
    assert "blank" in str(empty.value)
    with pytest.raises(DocumentTooLarge):
        await rag.ingest(Document(id="big", text="y" * 51))
    with pytest.raises(UndecodableDocument):
        await rag.ingest(Document(id="nul", text="a\x00b"))
    report = await rag.ingest(
        [Document(id="ok", text="fine text", metadata={"team": "it"}), Document(id="blank2", text="")]
    )
    assert report.created == 1 and [f.source for f in report.failures] == ["blank2"]


async def test_metadata_filters_and_search_modes() -> None:
    rag, _ = make()
    await rag.ingest(
        [
            Document(
                id="p", title="Password", text=PASSWORD, format="markdown", metadata={"category": "access"}
            ),
            Document(id="v", title="VPN", text=VPN, format="markdown", metadata={"category": "network"}),
        ]
    )
    hits = await rag.retrieve("password", filters={"category": "network"})
    assert [h.document_id for h in hits] == ["v"]
    for mode in ("dense", "keyword", "hybrid"):
        found = await rag.retrieve("reset password self-service portal", mode=mode, top_k=1)
        assert [h.document_id for h in found] == ["p"], mode
    keyword = await rag.retrieve("GlobalConnect", mode="keyword")
    assert keyword[0].document_id == "v" and keyword[0].keyword_rank == 1


async def test_threshold_drops_unrelated_chunks() -> None:
    rag, _ = make(similarity_threshold=0.7)
    await rag.ingest([Document(id="p", text=PASSWORD), Document(id="v", text=VPN)])
    assert await rag.retrieve("zebra giraffe savannah", mode="dense") == []
    response = await rag.query("zebra giraffe savannah")
    assert response.answer == NO_CONTEXT_ANSWER and response.sources == ()


class OneHotEmbeddings(HashEmbeddings):
    """Every text that mentions 'freeze' points one way, every other text another (cosine 0)."""

    def vector(self, text: str) -> tuple[float, ...]:
        axis = 0 if "freeze" in text.lower() else 1
        return tuple(1.0 if i == axis else 0.0 for i in range(self._dimensions))


async def test_top_keyword_hits_survive_the_threshold_in_hybrid_mode_only() -> None:
    rag, _ = make(similarity_threshold=0.7, embeddings=OneHotEmbeddings(dimensions=64))
    await rag.ingest([Document(id="p", text=PASSWORD), Document(id="v", text=VPN)])
    # The query shares words with the VPN article but its embedding is orthogonal to it.
    assert await rag.retrieve("VPN client freeze", mode="dense") == []
    hits = await rag.retrieve("VPN client freeze", mode="hybrid")
    assert [hit.document_id for hit in hits] == ["v"]
    # Without any shared word nothing comes back, in either mode.
    assert await rag.retrieve("zebra freeze", mode="hybrid") == []


async def test_mmr_and_reranking_options_run() -> None:
    rag, _ = make(use_mmr=True, mmr_lambda=0.3, top_k=2)
    await rag.ingest(
        [
            Document(id="p1", text=PASSWORD),
            Document(id="p2", text=PASSWORD + " Same again."),
            Document(id="v", text=VPN),
        ]
    )
    hits = await rag.retrieve("reset password portal")
    assert len(hits) == 2 and {h.document_id for h in hits} != {"p1", "p2"}
    assert "v" in {h.document_id for h in hits}


async def test_reranking_reorders_with_the_score_fusion_fallback() -> None:
    rag, _ = make(enable_reranking=True)
    assert rag.reranker.name.startswith("score-fusion")
    await rag.ingest([Document(id="p", text=PASSWORD), Document(id="v", text=VPN)])
    hits = await rag.retrieve("reset password portal")
    assert hits[0].document_id == "p" and hits[0].score == 1.0


async def test_conversation_memory_feeds_rewrite_and_prompt_and_is_stored() -> None:
    rag, parts = make()
    await rag.ingest([Document(id="p", text=PASSWORD), Document(id="v", text=VPN)])
    await rag.query("How do I install the VPN client?", conversation_id="c1", user_id="alice")
    second = await rag.query("and where do I sign in to it?", conversation_id="c1", user_id="alice")
    assert second.rewritten_query is not None and "vpn" in second.rewritten_query
    messages = parts["llm"].calls[-1].messages
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1].content == "How do I install the VPN client?"
    turns = await rag.conversation("c1")
    assert [t.question for t in turns] == [
        "How do I install the VPN client?",
        "and where do I sign in to it?",
    ]
    assert turns[0].user_id == "alice" and turns[0].source_ids


async def test_user_export_and_erasure() -> None:
    rag, _ = make()
    await rag.ingest([Document(id="mine", text=PASSWORD)], user_id="alice")
    await rag.ingest([Document(id="mine", text=PASSWORD + " v2")], user_id="alice")
    await rag.ingest([Document(id="theirs", text=VPN)], user_id="bob")
    await rag.query("reset password", conversation_id="c", user_id="alice")
    exported = await rag.export_user_documents(user_id="alice")
    assert [(d.document_id, d.version) for d in exported.documents] == [("mine", 1), ("mine", 2)]
    assert len(exported.conversations) == 1
    erased = await rag.delete_user_documents(user_id="alice")
    assert erased.document_ids == ("mine",) and erased.chunks == 1 and erased.conversation_turns == 1
    remaining = await rag.list_documents()
    assert [d.document_id for d in remaining] == ["theirs"]
    assert [h.document_id for h in await rag.retrieve("password")] == ["theirs"]
    with pytest.raises(ValidationError):
        await rag.delete_user_documents(user_id="alice", tenant_id="other")


async def test_user_erasure_refuses_positional_arguments() -> None:
    from motadata_ai.errors import KeywordArgumentsRequired

    rag, _ = make()
    await rag.ingest([Document(id="theirs", text=VPN)], user_id="bob")
    with pytest.raises(KeywordArgumentsRequired):
        await rag.delete_user_documents("bob", "acme")
    with pytest.raises(KeywordArgumentsRequired):
        await rag.export_user_documents("bob")
    assert [d.document_id for d in await rag.list_documents()] == ["theirs"]


async def test_delete_document() -> None:
    rag, _ = make()
    await rag.ingest([Document(id="p", text=PASSWORD), Document(id="v", text=VPN)])
    assert await rag.delete_document("p") is True
    assert await rag.delete_document("p") is False
    assert [h.document_id for h in await rag.retrieve("password")] == ["v"]


async def test_tenants_are_isolated_with_identical_vectors() -> None:
    vectors = InMemoryVectorStore(dimensions=64)
    documents = InMemoryDocumentStore()
    a, _ = make("tenant-a", vectors=vectors, documents=documents)
    b, _ = make("tenant-b", vectors=vectors, documents=documents)
    await a.ingest([Document(id="same", text=PASSWORD + " Secret of A.")])
    await b.ingest([Document(id="same", text=PASSWORD + " Secret of B.")])
    assert all("Secret of A" in h.text for h in await a.retrieve("password"))
    await a.delete_document("same")
    assert await a.retrieve("password") == []
    assert [h.text.endswith("Secret of B.") for h in await b.retrieve("password")] == [True]


@pytest.mark.parametrize(
    ("question", "options", "field"),
    [
        ("", {}, "question"),
        ("   ", {}, "question"),
        ("x" * 4001, {}, "question"),
        ("ok", {"mode": "semantic"}, "mode"),
        ("ok", {"top_k": 0}, "top_k"),
        ("ok", {"conversation_id": "c" * 300}, "conversation_id"),
    ],
)
async def test_bad_queries_are_refused_naming_the_field(
    question: str, options: dict[str, Any], field: str
) -> None:
    rag, parts = make()
    await rag.ingest([Document(id="p", text=PASSWORD)])
    with pytest.raises(ValidationError) as caught:
        await rag.query(question, **options)
    assert caught.value.field == field
    assert parts["llm"].calls == []


async def test_invalid_and_empty_tenants() -> None:
    with pytest.raises(InvalidTenant):
        make("no spaces allowed!")
    rag, _ = make("nobody")
    with pytest.raises(KnowledgeBaseEmpty) as caught:
        await rag.query("anything?")
    assert caught.value.field == "tenant_id" and "nobody" in str(caught.value)
    assert await rag.retrieve("anything?") == []


class CountingDocuments(InMemoryDocumentStore):
    """An in-memory document store that records each ``count`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = 0

    async def count(self, tenant: TenantContext, *, user_id: str | None = None) -> int:
        self.counts += 1
        return await super().count(tenant, user_id=user_id)


async def test_a_query_that_finds_sources_does_not_count_the_documents() -> None:
    documents = CountingDocuments()
    rag, _ = make(documents=documents, similarity_threshold=0.7)
    await rag.ingest([Document(id="p", text=PASSWORD), Document(id="v", text=VPN)])
    for _ in range(3):
        response = await rag.query("How do I reset my password?")
        assert response.sources and response.sources[0].document_id == "p"
    assert documents.counts == 0
    # no match: counted once to tell it from an empty knowledge base, which still raises
    response = await rag.query("zebra giraffe savannah", mode="dense")
    assert response.answer == NO_CONTEXT_ANSWER and response.sources == ()
    assert documents.counts == 1
    empty, _ = make("nobody", documents=documents)
    with pytest.raises(KnowledgeBaseEmpty):
        await empty.query("How do I reset my password?")
    assert documents.counts == 2


def test_default_threshold_and_options_are_validated() -> None:
    with pytest.raises(ValidationError):
        make(similarity_threshold=2.0)
    with pytest.raises(ValidationError):
        make(chunk_size=100, chunk_overlap=100)
    rag, _ = make()
    assert rag.chunker.chunk_size == 1000 and rag.chunker.chunk_overlap == 200 and rag.top_k == 5


async def test_list_documents_returns_every_document_or_the_page_asked_for() -> None:
    rag, _ = make(enable_memory=False)
    total = 1003  # more than one page of the documents port (1,000)
    documents = [Document(id=f"doc-{i:04d}", text=f"Article number {i}.") for i in range(total)]
    report = await rag.ingest(documents)
    assert report.created == total
    everything = await rag.list_documents()
    assert [d.document_id for d in everything] == [f"doc-{i:04d}" for i in range(total)]
    assert await rag.count_documents() == total
    page = await rag.list_documents(limit=10, offset=995)
    assert [d.document_id for d in page] == [f"doc-{i:04d}" for i in range(995, 1003)]
    pages: list[str] = []
    while batch := await rag.list_documents(limit=400, offset=len(pages)):
        pages.extend(d.document_id for d in batch)
    assert pages == [d.document_id for d in everything]
    for bad in ({"limit": 0}, {"limit": -1}, {"offset": -1}, {"limit": True}):
        with pytest.raises(ValidationError):
            await rag.list_documents(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "arguments", [{"metadata": ["team", "it"]}, {"metadata": "team=it"}, {"progress": 5}]
)
async def test_ingest_options_of_the_wrong_kind_are_refused_before_any_work(
    arguments: dict[str, Any],
) -> None:
    rag, parts = make()
    with pytest.raises(ValidationError) as caught:
        await rag.ingest(Document(id="d1", text="Reset a password from the portal."), **arguments)
    assert caught.value.field == next(iter(arguments))
    assert parts["embeddings"].calls == []
    assert await parts["vectors"].count(TenantContext(tenant_id="acme")) == 0
