"""Rate limits count the tenant's requests, not the internal calls made on their behalf.

Each test spends a tenant's whole request bucket (no refill: the clock stands still) and checks
that exactly the requests the documentation promises went through: an ``agent.chat`` is one
request (not three), an ``execute_task`` that searches the knowledge base is one request per
step (not five), and a RAG query succeeds with ``burst_size=1``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.agents import Agent, knowledge_search_tool
from motadata_ai.domain.gateway import Gateway, GatewayConfig, RateLimited
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.retrieval.reranking import ScoreFusionReranker
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.testing.models import tool_call

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]

VPN = Document(id="vpn", title="VPN", text="The VPN client connects on port 443. Sign in with MFA.")


async def stores_with_knowledge() -> tuple[InMemoryVectorStore, InMemoryDocumentStore]:
    """A knowledge base for tenant ``acme``, ingested through a gateway of its own."""
    vectors, documents = InMemoryVectorStore(dimensions=64), InMemoryDocumentStore()
    loader = Gateway(
        llm=FunctionLLM(lambda r: "unused"),
        embeddings=HashEmbeddings(dimensions=64),
        config=GatewayConfig(default_embedding_model="hash", requests_per_minute=None),
    )
    rag = RAGSystem(gateway=loader, vector_store=vectors, documents=documents, tenant="acme")
    assert (await rag.ingest(VPN)).ok
    return vectors, documents


def rag_over(
    gateway: Gateway, vectors: InMemoryVectorStore, documents: InMemoryDocumentStore, **kw: Any
) -> RAGSystem:
    return RAGSystem(
        gateway=gateway,
        vector_store=vectors,
        documents=documents,
        tenant="acme",
        config=RAGConfig(embedding_model="hash", similarity_threshold=0.0),
        **kw,
    )


async def test_one_agent_chat_is_one_request(make_rig: RigFactory) -> None:
    rig = make_rig(requests_per_minute=1, burst_size=3, default_embedding_model="hash")
    agent = Agent(
        agent_id="helper", name="Helper", gateway=rig.gateway, tenant="acme", memory=InMemoryMemoryStore()
    )
    for n in range(3):
        task = await agent.chat(f"question {n}", conversation_id="c1", user_id="u1")
        assert task.status == "completed"
    assert len(rig.embeddings.calls) >= 6  # each chat recalled and stored a memory: internal calls
    with pytest.raises(RateLimited) as refused:
        await agent.chat("question 3", conversation_id="c1", user_id="u1")
    assert refused.value.scope == ["req"]
    assert len(rig.llm.calls) == 3  # the refused chat was refused before its model call


async def test_a_task_with_knowledge_search_spends_one_request_per_step(make_rig: RigFactory) -> None:
    def model(request: ChatRequest) -> object:
        if not any(m.role == "tool" for m in request.messages):
            return tool_call("knowledge_search", {"query": "vpn port"})
        return "Port 443 [1]"

    rig = make_rig(model, requests_per_minute=1, burst_size=2, default_embedding_model="hash")
    vectors, documents = await stores_with_knowledge()
    rag = rag_over(
        rig.gateway, vectors, documents, query_rewriter=KeywordQueryRewriter(), reranker=ScoreFusionReranker()
    )
    agent = Agent(
        agent_id="kb",
        name="kb",
        gateway=rig.gateway,
        tenant="acme",
        memory=InMemoryMemoryStore(),
        tools=[knowledge_search_tool(rag)],
    )
    task = await agent.execute_task("Which port does the VPN use?", user_id="u1")
    assert task.status == "completed" and task.answer == "Port 443 [1]" and len(task.steps) == 2
    assert "443" in (rig.llm.calls[1].messages[-1].content or "")  # the search found the passage
    with pytest.raises(RateLimited):  # the two steps spent exactly the two requests of the burst
        await rig.gateway.generate(ask("one more"), tenant_id="acme")


async def test_a_rag_query_succeeds_with_a_burst_of_one(make_rig: RigFactory) -> None:
    rig = make_rig(
        lambda r: "Use port 443 [1]", requests_per_minute=1, burst_size=1, default_embedding_model="hash"
    )
    vectors, documents = await stores_with_knowledge()
    rag = rag_over(rig.gateway, vectors, documents)
    assert rig.gateway.capabilities("test/model").generative  # rewrite and re-rank call the model too
    response = await rag.query("Which port does the VPN use?")
    assert response.answer == "Use port 443 [1]" and response.sources
    assert len(rig.llm.calls) >= 2 and rig.embeddings.calls  # rewrite/re-rank, answer, query embedding
    with pytest.raises(RateLimited):  # the query spent the one request
        await rag.query("And which sign-in?")


async def test_an_ingest_spends_no_request(make_rig: RigFactory) -> None:
    rig = make_rig(
        lambda r: "Use port 443 [1]", requests_per_minute=1, burst_size=1, default_embedding_model="hash"
    )
    vectors, documents = await stores_with_knowledge()
    rag = rag_over(rig.gateway, vectors, documents)
    report = await rag.ingest([Document(id="sso", text="Sign in to the VPN with your SSO account.")])
    assert report.documents and rig.embeddings.calls
    response = await rag.query("Which port does the VPN use?")  # the burst's one request is still there
    assert response.answer == "Use port 443 [1]"


async def test_embeddings_have_their_own_bucket(make_rig: RigFactory) -> None:
    rig = make_rig(requests_per_minute=1, burst_size=1, embedding_texts_per_minute=3)
    for text in ("a", "b", "c"):
        await rig.gateway.embed([text], tenant_id="acme")
    with pytest.raises(RateLimited) as refused:
        await rig.gateway.embed(["d"], tenant_id="acme")
    assert refused.value.scope == ["emb"]
    await rig.gateway.generate(ask("the request bucket is untouched"), tenant_id="acme")


async def test_a_nested_request_joins_the_outer_one_and_a_forged_origin_pays(make_rig: RigFactory) -> None:
    from motadata_ai.domain.values.calls import CallOrigin, acting_for

    rig = make_rig(requests_per_minute=1, burst_size=2)
    async with rig.gateway.request("acme", operation="unified_query") as outer:
        async with rig.gateway.request("acme", operation="rag.query") as inner:
            assert inner == outer  # the same request (with a usage of its own: see test_request_attribution)
            for n in range(5):
                await rig.gateway.generate(ask(f"internal {n}"), tenant_id="acme", purpose="answer")
    with acting_for(CallOrigin("made-up", "acme", "rag.query")):
        await rig.gateway.generate(ask("not admitted: a request of its own"), tenant_id="acme")
    with pytest.raises(RateLimited):
        await rig.gateway.generate(ask("the burst is spent"), tenant_id="acme")


async def test_internal_calls_still_count_every_token(make_rig: RigFactory) -> None:
    rig = make_rig(requests_per_minute=1, burst_size=1, tokens_per_minute=300)
    async with rig.gateway.request("acme", operation="rag.query"):
        await rig.gateway.generate(ask("x" * 800), tenant_id="acme", purpose="answer")  # ~200 tokens
        with pytest.raises(RateLimited) as refused:
            await rig.gateway.generate(ask("y" * 800), tenant_id="acme", purpose="answer")
    assert "tok" in refused.value.scope and "req" not in refused.value.scope
