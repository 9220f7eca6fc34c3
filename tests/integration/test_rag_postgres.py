"""RAGSystem on real PostgreSQL + pgvector: tenants, versions, deletion, failed ingests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.parsers import FileDocumentParser
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.adapters.tokenizer import default_tokenizer
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.values.documents import Document, StoredDocument
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES, ChatRequest
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.documents import DocumentStoreUnavailable

pytestmark = pytest.mark.postgres

KB = Path(__file__).resolve().parents[2] / "examples" / "knowledge_base"


class BrokenVersions(PostgresDocumentStore):
    """Fails inside the write transaction, after the new chunks are written, while ``failing``."""

    failing = False

    async def _insert_version(self, conn: Any, tenant: TenantContext, document: StoredDocument) -> None:
        if self.failing:
            raise DocumentStoreUnavailable("simulated outage", address="postgresql://app:***@db/x")
        await super()._insert_version(conn, tenant, document)


def cite_first(request: ChatRequest) -> str:
    return "See the first passage [1]."


async def build(database: PostgresDatabase, tenant: str, **options: Any) -> tuple[RAGSystem, dict[str, Any]]:
    vectors = PgVectorStore(database, dimensions=128)
    await vectors.setup()
    documents = options.pop("documents", None) or PostgresDocumentStore(database)
    llm = FunctionLLM(cite_first, capabilities=EXTRACTIVE_CAPABILITIES)
    gateway = Gateway(
        llm=llm,
        embeddings=HashEmbeddings(dimensions=128),
        config=GatewayConfig(
            default_model="local/extractive",
            default_embedding_model="hash",
            requests_per_minute=0,
            max_retries=0,
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
        count_tokens=default_tokenizer().count,
        **options,
    )
    return rag, {"vectors": vectors, "documents": documents, "llm": llm}


async def test_knowledge_base_ingest_and_answer(pg_isolated_database: PostgresDatabase) -> None:
    rag, _parts = await build(pg_isolated_database, "acme")
    report = await rag.ingest(KB)
    assert report.ok and report.created >= 20
    response = await rag.query("How do I reset my password?")
    assert response.sources and response.sources[0].cited
    titles = [s.title for s in response.sources]
    assert any("password" in t.lower() for t in titles[:2]), titles
    again = await rag.ingest(KB)
    assert again.unchanged == report.created and again.chunks == 0


async def test_tenant_isolation_with_identical_vectors(pg_isolated_database: PostgresDatabase) -> None:
    a, parts = await build(pg_isolated_database, "tenant-a")
    b, _ = await build(pg_isolated_database, "tenant-b")
    text = "Reset your password in the self-service portal."
    await a.ingest([Document(id="same", title="A", text=text)])
    await b.ingest([Document(id="same", title="B", text=text)])  # identical text, identical vectors
    for mode in ("dense", "keyword", "hybrid"):
        hits_a = await a.retrieve("reset password", mode=mode)
        hits_b = await b.retrieve("reset password", mode=mode)
        assert [h.title for h in hits_a] == ["A"], mode
        assert [h.title for h in hits_b] == ["B"], mode
    assert await a.delete_document("same")
    assert await a.retrieve("reset password") == []
    assert [h.title for h in await b.retrieve("reset password")] == ["B"]
    assert await parts["vectors"].count(TenantContext(tenant_id="tenant-b")) == 1


async def test_new_version_replaces_chunks_and_failed_write_keeps_the_old(
    pg_isolated_database: PostgresDatabase,
) -> None:
    documents = BrokenVersions(pg_isolated_database)
    rag, parts = await build(
        pg_isolated_database, "acme", documents=documents, chunk_size=30, chunk_overlap=5
    )
    v1 = "VPN setup. " + " ".join(f"step{i}" for i in range(60))
    await rag.ingest([Document(id="vpn", title="VPN", text=v1)])
    tenant = TenantContext(tenant_id="acme")
    first = await documents.get(tenant, "vpn")
    assert first is not None and len(first.chunk_ids) > 1
    v2 = "VPN setup, revised. " + " ".join(f"stage{i}" for i in range(10))
    report = await rag.ingest([Document(id="vpn", title="VPN", text=v2)])
    assert report.updated == 1
    second = await documents.get(tenant, "vpn")
    assert second is not None and second.version == 2
    assert await parts["vectors"].count(tenant) == len(second.chunk_ids)
    assert not await parts["vectors"].get(tenant, list(first.chunk_ids))

    before = sorted(r.text for r in await parts["vectors"].get(tenant, list(second.chunk_ids)))
    documents.failing = True
    report = await rag.ingest([Document(id="vpn", title="VPN", text="v3 " + v2)])
    assert [f.error for f in report.failures] == ["DocumentStoreUnavailable"]
    documents.failing = False
    after = sorted(r.text for r in await parts["vectors"].get(tenant, list(second.chunk_ids)))
    assert after == before and await parts["vectors"].count(tenant) == len(second.chunk_ids)
    assert (await documents.get(tenant, "vpn")).version == 2  # type: ignore[union-attr]


async def test_user_erasure_on_postgres(pg_isolated_database: PostgresDatabase) -> None:
    rag, _parts = await build(pg_isolated_database, "acme")
    await rag.ingest([Document(id="a", text="alice's notes on printers")], user_id="alice")
    await rag.ingest([Document(id="b", text="bob's notes on printers")], user_id="bob")
    await rag.query("printers", conversation_id="c1", user_id="alice")
    exported = await rag.export_user_documents(user_id="alice")
    assert [d.document_id for d in exported.documents] == ["a"] and len(exported.conversations) == 1
    erased = await rag.delete_user_documents(user_id="alice")
    assert erased.document_ids == ("a",) and erased.conversation_turns == 1
    assert [h.document_id for h in await rag.retrieve("printers")] == ["b"]
