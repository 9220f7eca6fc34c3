"""The unified query: heuristic and classifier routing, each mode, and merging in ``both``."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM, scripted
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.domain.agents import Agent
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.routing import UnifiedQuery, route_by_heuristic
from motadata_ai.domain.values.agents import MaxIterationsExceeded
from motadata_ai.domain.values.documents import RAGResponse, Source
from motadata_ai.domain.values.errors import ConfigurationError, InvalidTenant, ValidationError
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES, ChatRequest
from motadata_ai.testing.models import tool_call

EXTRACTIVE = EXTRACTIVE_CAPABILITIES


@pytest.mark.parametrize(
    ("query", "route"),
    [
        ("Restart the VPN gateway in Frankfurt", "agent"),
        ("please create an incident for the broken printer", "agent"),
        ("Can you escalate INC-4412 to the network team?", "agent"),
        ("INC-77 needs to be closed today", "agent"),
        ("How do I reset my password?", "rag"),
        ("What is the SLA for P1 incidents?", "rag"),
        ("explain the change approval process", "rag"),
        ("printer drivers for the 3rd floor", "rag"),
        ("Is INC-12 a duplicate?", "rag"),
        ("Was INC-12 closed yesterday?", "rag"),
    ],
)
def test_heuristic_routes_actions_to_agents_and_questions_to_rag(query: str, route: str) -> None:
    decision = route_by_heuristic(query)
    assert decision.route == route, decision.reason
    assert 0.5 <= decision.confidence <= 0.95


def make_gateway(llm: FunctionLLM, model: str = "local/extractive") -> Gateway:
    return Gateway(
        llm=llm,
        embeddings=HashEmbeddings(dimensions=32),
        config=GatewayConfig(
            default_model=model,
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
            request_deduplication=False,
        ),
    )


class FakeRag:
    def __init__(self, answer: str = "Use the self-service portal [1].", score: float = 0.72) -> None:
        self.answer = answer
        self.score = score
        self.questions: list[tuple[str, str | None, str | None]] = []

    async def query(
        self, question: str, *, conversation_id: str | None = None, user_id: str | None = None
    ) -> RAGResponse:
        self.questions.append((question, conversation_id, user_id))
        source = Source(
            chunk_id="c1",
            document_id="kb-1",
            title="Passwords",
            text="...",
            score=self.score,
            cited=True,
            citation=1,
        )
        return RAGResponse(
            answer=self.answer,
            sources=(source,),
            question=question,
            input_tokens=30,
            output_tokens=10,
            cost_usd=0.001,
        )


def setup(
    agent_reply: object = "Restarted the gateway.",
    rag: FakeRag | None = None,
    model: str = "local/extractive",
):  # type: ignore[no-untyped-def]
    agents: dict[str, Agent] = {}
    rag = rag or FakeRag()
    # the double advertises what the model named here would: an extractive local one, else generative
    capabilities = EXTRACTIVE if model.startswith("local/") else None
    llm = FunctionLLM(
        scripted([agent_reply]) if not callable(agent_reply) else agent_reply,  # type: ignore[arg-type]
        capabilities=capabilities,
    )
    gateway = make_gateway(llm, model)

    def agent_factory(tenant_id: str) -> Agent:
        if tenant_id not in agents:
            agents[tenant_id] = Agent(
                agent_id="desk",
                name="desk",
                gateway=gateway,
                tenant=tenant_id,
                tools=[],
                memory=InMemoryMemoryStore(),
            )
        return agents[tenant_id]

    async def rag_factory(tenant_id: str) -> FakeRag:
        return rag

    return UnifiedQuery(rag_factory=rag_factory, agent_factory=agent_factory, gateway=gateway), rag, llm


async def test_auto_routes_an_action_to_the_agent() -> None:
    unified, rag, _ = setup()
    response = await unified.query("Restart the VPN gateway", tenant_id="acme", user_id="u1")
    assert response.mode == "agent" and response.requested_mode == "auto"
    assert response.answer == "Restarted the gateway."
    assert response.agent is not None and response.agent.tenant_id == "acme"
    assert response.confidence == 0.6
    assert rag.questions == []


async def test_auto_routes_a_question_to_rag() -> None:
    unified, rag, llm = setup()
    response = await unified.query(
        "How do I reset my password?", tenant_id="acme", user_id="u1", conversation_id="c1"
    )
    assert response.mode == "rag"
    assert response.answer == "Use the self-service portal [1]."
    assert response.confidence == pytest.approx(0.72)
    assert [s.document_id for s in response.sources] == ["kb-1"]
    assert response.input_tokens == 30 and response.cost_usd == pytest.approx(0.001)
    assert rag.questions == [("How do I reset my password?", "c1", "u1")]
    assert llm.calls == []


async def test_both_merges_answers_confidence_sources_tokens_and_cost() -> None:
    unified, _, _ = setup(rag=FakeRag(score=0.9))
    response = await unified.query("reset my password", tenant_id="acme", mode="both")
    assert response.mode == "both"
    assert (
        response.answer == "Use the self-service portal [1].\n\nRestarted the gateway."
    )  # RAG more confident
    assert response.confidence == pytest.approx(0.9)
    assert response.sources and response.agent is not None and response.rag is not None
    assert response.input_tokens == response.agent.input_tokens + 30
    assert response.cost_usd == pytest.approx(response.agent.cost_usd + 0.001)
    assert response.errors == ()


async def test_both_keeps_the_working_half_when_one_fails() -> None:
    unified, _, _ = setup(agent_reply=lambda r: tool_call("nothing", {}))
    response = await unified.query("reset my password", tenant_id="acme", mode="both")
    assert response.answer == "Use the self-service portal [1]."
    assert len(response.errors) == 1 and "ToolRetriesExceeded" in response.errors[0]


async def test_a_single_mode_failure_raises_the_typed_error() -> None:
    unified, _, _ = setup(agent_reply=lambda r: tool_call("nothing", {}))
    unified.agent_factory = lambda tenant: Agent(  # type: ignore[assignment]
        agent_id="a",
        name="a",
        gateway=unified.gateway,
        tenant=tenant,  # type: ignore[arg-type]
        tools=[lambda_tool],
        max_iterations=2,
    )
    with pytest.raises(MaxIterationsExceeded):
        await unified.query("run it", tenant_id="acme", mode="agent")


def lambda_tool() -> str:
    """Does nothing."""
    return "ok"


async def test_the_classifier_routes_when_a_generative_model_is_configured() -> None:
    def model(request: ChatRequest) -> str:
        if request.max_tokens == 3:  # the classifier call
            return "agent"
        return "Done."

    unified, _, _ = setup(agent_reply=model, model="openai/gpt-4o-mini")
    assert unified.use_classifier
    response = await unified.query("What is blocking INC-9?", tenant_id="acme")
    assert response.mode == "agent" and "classified by openai/gpt-4o-mini" in response.route_reason
    assert response.input_tokens > response.agent.input_tokens  # type: ignore[union-attr]


async def test_an_unreadable_classifier_answer_falls_back_to_the_heuristic() -> None:
    unified, _, _ = setup(agent_reply=lambda r: "hmm, not sure", model="openai/gpt-4o-mini")
    response = await unified.query("How do I reset my password?", tenant_id="acme")
    assert response.mode == "rag" and "unreadable" in response.route_reason


async def test_conversations_go_through_agent_sessions() -> None:
    unified, _, llm = setup(agent_reply=lambda r: f"seen {len(r.messages)} messages")
    await unified.query("restart web-1", tenant_id="acme", user_id="u", conversation_id="c9")
    second = await unified.query("restart web-2", tenant_id="acme", user_id="u", conversation_id="c9")
    assert "restart web-1" in [m.content for m in llm.calls[1].messages]
    assert second.conversation_id == "c9"


async def test_bad_input_is_rejected() -> None:
    unified, _, _ = setup()
    with pytest.raises(ValidationError):
        await unified.query("  ", tenant_id="acme")
    with pytest.raises(ValidationError):
        await unified.query("hi", tenant_id="acme", mode="everything")  # type: ignore[arg-type]
    with pytest.raises(InvalidTenant):
        await unified.query("hi", tenant_id="no such tenant!")
    with pytest.raises(ConfigurationError):
        UnifiedQuery(rag_factory=None, agent_factory=None)


async def test_only_one_path_configured_routes_there() -> None:
    rag = FakeRag()
    unified = UnifiedQuery(rag_factory=lambda tenant: rag, agent_factory=None)
    response = await unified.query("restart everything", tenant_id="acme")
    assert response.mode == "rag" and response.route_reason == "no agent is configured"
