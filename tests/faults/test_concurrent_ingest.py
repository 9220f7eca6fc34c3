"""Ten concurrent ingests of one new document id, on real PostgreSQL and in memory.

Each round ends with exactly one current version holding all of its chunks and nothing else of
the document stored; every ingest reports ``created``, ``updated`` or ``unchanged`` and none
raises (no ``VersionConflict`` leaks out, no deadlock surfaces as a ``VectorStoreError``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.values.documents import Document, IngestReport
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES, EmbeddingRequest, EmbeddingResponse
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.documents import DocumentStorePort
from motadata_ai.ports.vector_store import VectorStorePort
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = pytest.mark.faults

TENANT = TenantContext(tenant_id="acme")
INGESTS = 10
ROUNDS = 3


class YieldingEmbeddings(HashEmbeddings):
    """Hashed embeddings that let other tasks run while "the model" works, as a real one does
    (a thread, a socket): so the ten ingests really overlap, in memory too."""

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        await asyncio.sleep(0)
        return await super().embed(request, timeout=timeout)


@dataclass
class Stores:
    vectors: VectorStorePort
    documents: DocumentStorePort


@pytest_asyncio.fixture(
    params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)], loop_scope="session"
)
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    if request.param == "memory":
        yield Stores(InMemoryVectorStore(dimensions=32), InMemoryDocumentStore())
        return
    database: PostgresDatabase
    async with isolated_database(request.getfixturevalue("postgres_dsn"), max_size=10) as database:
        vectors = PgVectorStore(database, dimensions=32)
        await vectors.setup()
        documents = PostgresDocumentStore(database)
        await documents.setup()
        yield Stores(vectors, documents)


def rag_on(stores: Stores) -> RAGSystem:
    """One RAG system per caller, as separate processes would have, over the shared stores."""
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "See [1].", capabilities=EXTRACTIVE_CAPABILITIES),
        embeddings=YieldingEmbeddings(dimensions=32),
        config=GatewayConfig(
            default_model="local/extractive",
            default_embedding_model="hash",
            max_retries=0,
            requests_per_minute=0,
            enable_caching=False,
        ),
    )
    return RAGSystem(
        gateway=gateway,
        vector_store=stores.vectors,
        documents=stores.documents,
        tenant=TENANT,
        config=RAGConfig(chunk_size=30, chunk_overlap=5, similarity_threshold=0.0, enable_memory=False),
    )


def text(label: str) -> str:
    return "# Shared article\n\n" + " ".join(f"Step {k} for {label}: check the queue." for k in range(12))


def reports_of(results: list[IngestReport | BaseException]) -> list[IngestReport]:
    """The reports, after checking that no ingest raised (no conflict, no deadlock leaked out)."""
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    assert errors == []
    return [r for r in results if isinstance(r, IngestReport)]


async def assert_one_whole_version(stores: Stores, document_id: str) -> None:
    current = await stores.documents.get(TENANT, document_id)
    assert current is not None
    assert len(current.chunk_ids) > 1
    stored = await stores.vectors.get(TENANT, list(current.chunk_ids))
    assert [r.id for r in stored] == list(current.chunk_ids)
    assert {r.version for r in stored} == {current.version}
    # nothing else of the document is stored: every chunk of the tenant is the current version's
    assert await stores.vectors.count(TENANT) == len(current.chunk_ids)
    versions = await stores.documents.versions(TENANT, document_id)
    assert [v.version for v in versions] == list(range(1, current.version + 1))


async def test_concurrent_ingests_of_identical_content_create_one_version(stores: Stores) -> None:
    for round_ in range(ROUNDS):
        document = Document(id=f"new-{round_}", title="Shared", text=text("everyone"))
        results = await asyncio.gather(
            *(rag_on(stores).ingest(document) for _ in range(INGESTS)), return_exceptions=True
        )
        await assert_one_whole_version(stores, document.id)
        reports = reports_of(results)
        actions = sorted(r.documents[0].action for r in reports)
        assert actions == ["created"] + ["unchanged"] * (INGESTS - 1)
        assert {r.documents[0].version for r in reports} == {1}
        assert await rag_on(stores).delete_document(document.id)


async def test_concurrent_ingests_of_different_content_each_become_a_version(stores: Stores) -> None:
    for round_ in range(ROUNDS):
        document_id = f"contended-{round_}"
        results = await asyncio.gather(
            *(
                rag_on(stores).ingest(Document(id=document_id, title="Shared", text=text(f"writer {i}")))
                for i in range(INGESTS)
            ),
            return_exceptions=True,
        )
        await assert_one_whole_version(stores, document_id)
        outcomes = [r.documents[0] for r in reports_of(results)]
        assert sorted(o.action for o in outcomes) == ["created"] + ["updated"] * (INGESTS - 1)
        assert sorted(o.version for o in outcomes) == list(range(1, INGESTS + 1))
        current = await stores.documents.get(TENANT, document_id)
        assert current is not None and current.version == INGESTS
        last = next(o for o in outcomes if o.version == INGESTS)
        assert last.chunks == len(current.chunk_ids)
        assert await rag_on(stores).delete_document(document_id)
