"""Every gateway call made for one user's RAG query, agent task and unified query is recorded as
that user's: the query embedding, the answer, the agent's memory recall, its tool's search, its
model steps and the routing call (none is left without a user)."""

from __future__ import annotations

import json

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.agents import Agent, knowledge_search_tool
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.routing import UnifiedQuery
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest, Message, ToolCall


def respond(request: ChatRequest) -> Message | str:
    if "Reply with exactly one word" in (request.messages[0].content or ""):
        return "agent"
    if request.tools and not any(m.role == "tool" for m in request.messages):
        arguments = json.dumps({"query": "VPN"})
        return Message(
            role="assistant", tool_calls=(ToolCall(id="c1", name="knowledge_search", arguments=arguments),)
        )
    return "Reset the VPN token [1]."


async def test_every_call_of_a_users_requests_is_recorded_as_theirs() -> None:
    ledger = InMemoryUsageLedger()
    gateway = Gateway(
        llm=FunctionLLM(respond),
        embeddings=HashEmbeddings(dimensions=32),
        ledger=ledger,
        config=GatewayConfig(
            default_model="fn/model", default_embedding_model="hash", requests_per_minute=None
        ),
    )
    rag = RAGSystem(
        gateway=gateway,
        vector_store=InMemoryVectorStore(dimensions=32),
        documents=InMemoryDocumentStore(),
        tenant="acme",
        config=RAGConfig(similarity_threshold=0.0, enable_memory=False),
    )
    await rag.ingest([Document(id="kb-vpn", title="VPN", text="Reset the VPN token from the portal.")])
    agent = Agent(
        agent_id="desk",
        name="desk",
        gateway=gateway,
        tenant="acme",
        tools=[knowledge_search_tool(rag)],
        memory=InMemoryMemoryStore(),
    )
    await agent.remember("bob", "bob is on the VPN team")
    await gateway.flush()
    before = len(await ledger.usage_records(tenant="acme", limit=1000))

    async def rag_factory(tenant_id: str) -> RAGSystem:
        return rag

    unified = UnifiedQuery(rag_factory=rag_factory, agent_factory=lambda tenant_id: agent, gateway=gateway)
    await rag.query("How do I fix the VPN?", user_id="bob")
    await agent.execute_task("Fix my VPN", user_id="bob")
    await unified.query("Please fix my VPN", tenant_id="acme", user_id="bob")
    await gateway.flush()

    records = (await ledger.usage_records(tenant="acme", limit=1000))[: -before or None]
    assert len(records) >= 13
    assert [r.user_id for r in records] == ["bob"] * len(records)
