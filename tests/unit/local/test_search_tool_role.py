"""The local extractive model finds the agents' knowledge-search tool by its declared role, so an
agent whose search tool is renamed still searches before it answers."""

from __future__ import annotations

from typing import Any

from motadata_ai.adapters.local.chat import LocalChat
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.domain.agents import Agent, knowledge_search_tool
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.llm import KNOWLEDGE_SEARCH_ROLE


class KnowledgeBase:
    """A retriever over fixed passages that records the questions it was asked."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.questions: list[str] = []

    async def retrieve(self, question: str, **options: Any) -> list[Source]:
        self.questions.append(question)
        return self.sources


def _gateway() -> Gateway:
    return Gateway(
        llm=LocalChat(),
        embeddings=HashEmbeddings(dimensions=64),
        config=GatewayConfig(
            default_model="local/extractive", enable_caching=False, requests_per_minute=None, max_retries=0
        ),
    )


def test_the_search_tool_declares_its_role_under_any_name() -> None:
    renamed = knowledge_search_tool(KnowledgeBase([]), name="kb_lookup")
    assert renamed.name == "kb_lookup"
    assert renamed.spec().role == KNOWLEDGE_SEARCH_ROLE


async def test_an_agent_on_the_local_model_searches_with_a_renamed_tool() -> None:
    kb = KnowledgeBase(
        [
            Source(
                chunk_id="c1",
                document_id="vpn.md",
                title="VPN",
                text="The VPN client connects on port 443. Reinstall the client when it fails.",
            )
        ]
    )
    agent = Agent(
        agent_id="desk",
        name="desk",
        gateway=_gateway(),
        tenant="acme",
        tools=[knowledge_search_tool(kb, name="kb_lookup")],
    )
    task = await agent.execute_task("Which port does the VPN client connect on?")
    assert task.status == "completed"
    assert [call.name for call in task.tool_calls] == ["kb_lookup"]
    assert kb.questions == ["Which port does the VPN client connect on?"]
    assert task.answer is not None and "port 443" in task.answer and "[1]" in task.answer
