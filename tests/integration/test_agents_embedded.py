"""On the embedded default the local extractive provider cannot plan, yet an agent completes a task
end to end: the provider calls ``knowledge_search`` (offered by the agent), the tool searches the
tenant's RAG store, and the provider answers from the passages with citations."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.litellm import LiteLLMChat, register_custom_provider
from motadata_ai.adapters.local import LOCAL_CHAT_MODEL, LOCAL_PROVIDER
from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.domain.agents import Agent, knowledge_search_tool
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.routing import UnifiedQuery
from motadata_ai.domain.values.documents import Document

pytestmark = [pytest.mark.slow]

ARTICLES = [
    Document(
        id="kb-vpn",
        title="VPN troubleshooting",
        text="When the VPN client fails to connect, reset the VPN token from the self-service portal. "
        "Then restart the VPN client. Tokens expire every 90 days.",
    ),
    Document(
        id="kb-printer",
        title="Printer guide",
        text="Printers on floor 3 use the HP-300 toner. Order toner through the service catalog.",
    ),
]


@pytest.fixture(scope="module")
def local_provider() -> None:
    from motadata_ai.adapters.local.providers import LocalChatProvider

    register_custom_provider(LOCAL_PROVIDER, chat=LocalChatProvider)


async def build(tenant: str) -> tuple[Gateway, RAGSystem]:
    gateway = Gateway(
        llm=LiteLLMChat(),
        embeddings=HashEmbeddings(dimensions=256),
        config=GatewayConfig(
            default_model=LOCAL_CHAT_MODEL,
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
        ),
    )
    rag = RAGSystem(
        gateway=gateway,
        vector_store=InMemoryVectorStore(dimensions=256),
        documents=InMemoryDocumentStore(),
        tenant=tenant,
        config=RAGConfig(similarity_threshold=0.0),
    )
    await rag.ingest(ARTICLES)
    return gateway, rag


async def test_an_agent_on_the_local_extractive_model_answers_through_knowledge_search(
    local_provider: None,
) -> None:
    gateway, rag = await build("acme")
    telemetry = RecordingTelemetry()
    agent = Agent(
        agent_id="desk",
        name="Service desk",
        gateway=gateway,
        tenant="acme",
        tools=[knowledge_search_tool(rag)],
        memory=InMemoryMemoryStore(),
        telemetry=telemetry,
    )

    task = await agent.execute_task("How do I fix a VPN client that fails to connect?", user_id="u1")

    assert task.status == "completed"
    assert [c.name for c in task.tool_calls] == ["knowledge_search"]
    assert task.tool_calls[0].status == "ok" and "[1] VPN troubleshooting:" in (
        task.tool_calls[0].result or ""
    )
    assert "reset the VPN token" in (task.answer or "") and "[1]" in (task.answer or "")
    assert len(task.steps) == 2
    assert {s.name for s in telemetry.spans} >= {"invoke_agent Service desk", "execute_tool knowledge_search"}


async def test_the_unified_query_on_the_embedded_default(local_provider: None) -> None:
    gateway, rag = await build("acme")

    def agent_factory(tenant: str) -> Agent:
        return Agent(
            agent_id="desk", name="desk", gateway=gateway, tenant=tenant, tools=[knowledge_search_tool(rag)]
        )

    unified = UnifiedQuery(rag_factory=lambda tenant: rag, agent_factory=agent_factory, gateway=gateway)
    assert not unified.use_classifier  # local models: the heuristic routes
    question = await unified.query("Which toner do floor 3 printers use?", tenant_id="acme", user_id="u1")
    assert question.mode == "rag" and "HP-300" in question.answer and question.sources
    both = await unified.query("Which toner do floor 3 printers use?", tenant_id="acme", mode="both")
    assert both.mode == "both" and "HP-300" in both.answer and both.agent is not None and both.rag is not None
