"""One user's RAG query, agent task and unified query through a whole app: every call of each
lands in the ledger with that user, the request's use-case and its request id, and each response
reports a cost (and tokens) equal to the sum of its request's records.

The chat model is scripted (with a price, so costs are not zero); the agent searches the
knowledge base with its ``knowledge_search`` tool and recalls the user's memories, so its request
holds embeddings made by the RAG system and by memory as well as its own model steps.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest, Message, ToolCall
from motadata_ai.domain.values.usage import UsageRecord
from motadata_ai.errors import ValidationError
from motadata_ai.settings import Settings

MODEL = "function/scripted"
CHEAP = "function/cheaper"
TENANT = "acme"


def respond(request: ChatRequest) -> Message | str:
    """Route to the agent; an agent with tools searches once, then answers; RAG answers citing [1]."""
    system = request.messages[0].content or ""
    if "Reply with exactly one word" in system:
        return "agent"
    if request.tools and not any(m.role == "tool" for m in request.messages):
        arguments = json.dumps({"query": request.messages[-1].content or ""})
        return Message(
            role="assistant", tool_calls=(ToolCall(id="c1", name="knowledge_search", arguments=arguments),)
        )
    return "Reset the VPN token from the self-service portal [1]."


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


@pytest_asyncio.fixture(loop_scope="session")
async def ai(tmp_path: Any) -> AsyncIterator[AI]:
    settings = Settings(
        profile="memory",
        data_dir=tmp_path,
        similarity_threshold=0.0,
        gateway={
            "default_model": MODEL,
            "model_prices": {
                MODEL: {"input_per_token": 1e-6, "output_per_token": 2e-6},
                CHEAP: {"input_per_token": 1e-7, "output_per_token": 2e-7},
            },
            "fallback_models": [CHEAP],
        },
    )
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(respond)))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with connect(container=container, warm_up=False) as app:
        await app.rag(TENANT).ingest(
            [Document(id="kb-vpn", title="VPN", text="Reset the VPN token from the self-service portal.")]
        )
        yield app


async def records_of(ai: AI, request_id: str | None) -> list[UsageRecord]:
    assert request_id is not None
    return await ai.usage.records(tenant_id=TENANT, request_id=request_id)


def assert_sum(records: list[UsageRecord], response: Any) -> None:
    assert response.cost_usd > 0
    assert response.cost_usd == pytest.approx(sum(r.cost_usd for r in records), abs=1e-12)
    assert response.input_tokens == sum(r.input_tokens for r in records)
    assert response.output_tokens == sum(r.output_tokens for r in records)


async def test_a_rag_query_is_attributed_to_its_user_and_costs_its_records(ai: AI) -> None:
    response = await ai.rag(TENANT).query("How do I fix the VPN?", user_id="bob")
    records = await records_of(ai, response.request_id)
    assert {r.user_id for r in records} == {"bob"}
    assert {r.use_case for r in records} == {"rag.query"}
    assert {"query_embedding", "answer"} <= {r.purpose for r in records}
    assert_sum(records, response)


async def test_an_ingest_is_attributed_to_its_user_as_one_request(ai: AI) -> None:
    documents = [
        Document(id=f"kb-bob-{n}", title="Printer", text=f"Printer {n} is on floor {n}.") for n in range(3)
    ]
    await ai.rag(TENANT).ingest(documents, user_id="bob")
    records = [r for r in await ai.usage.records(tenant_id=TENANT, user_id="bob") if r.purpose == "ingestion"]
    assert records  # the chunks' embeddings are bob's
    assert {r.use_case for r in records} == {"rag.ingest"}
    assert len({r.request_id for r in records}) == 1  # one ingest is one request


async def test_an_agent_task_counts_its_tool_and_memory_calls(ai: AI) -> None:
    agent = ai.agent(TENANT)
    await agent.remember("bob", "bob works on the VPN team")
    task = await agent.execute_task("Fix my VPN", user_id="bob")
    assert task.status == "completed"
    records = await records_of(ai, task.request_id)
    assert {r.user_id for r in records} == {"bob"}
    assert {r.use_case for r in records} == {"agent.execute_task"}
    purposes = [r.purpose for r in records]
    assert purposes.count("agent_step") == 2 and "memory_recall" in purposes and "query_embedding" in purposes
    assert_sum(records, task)
    assert task.cost_usd > sum(step.cost_usd for step in task.steps) - 1e-12


async def test_a_routed_unified_query_counts_its_routing_call(ai: AI) -> None:
    response = await ai.query("Please fix my VPN", tenant_id=TENANT, user_id="bob")
    assert response.mode == "agent" and response.agent is not None
    records = await records_of(ai, response.request_id)
    assert {r.user_id for r in records} == {"bob"}
    assert {r.use_case for r in records} == {"unified_query"}
    assert {"classification", "agent_step", "query_embedding"} <= {r.purpose for r in records}
    assert_sum(records, response)
    routing = sum(r.cost_usd for r in records if r.purpose == "classification")
    assert routing > 0 and response.cost_usd == pytest.approx(response.agent.cost_usd + routing)


async def test_a_unified_query_on_both_paths_sums_them(ai: AI) -> None:
    response = await ai.query("How do I fix the VPN?", tenant_id=TENANT, user_id="bob", mode="both")
    assert response.agent is not None and response.rag is not None
    records = await records_of(ai, response.request_id)
    assert {r.user_id for r in records} == {"bob"}
    assert {r.use_case for r in records} == {"unified_query"}
    assert_sum(records, response)
    # each part reports its own calls, made concurrently inside the one request
    assert response.rag.request_id == response.agent.request_id == response.request_id
    assert response.cost_usd == pytest.approx(response.agent.cost_usd + response.rag.cost_usd)


async def test_reports_and_recommendations_are_reachable_from_the_app(ai: AI) -> None:
    await ai.rag(TENANT).query("How do I fix the VPN?", user_id="carol")
    by_user = await ai.usage.report(tenant_id=TENANT, group_by="user")
    carol = next(row for row in by_user.rows if row.key == "carol")
    assert carol.calls >= 2 and carol.cost_usd > 0
    by_operation = await ai.usage.report(tenant_id=TENANT, group_by="operation")
    assert "rag.query" in {row.key for row in by_operation.rows}
    by_model = await ai.usage.report(tenant_id=TENANT, group_by="model")
    assert MODEL in {row.key for row in by_model.rows}
    assert by_model.total.calls == sum(row.calls for row in by_model.rows)
    (fallback,) = [
        r for r in await ai.usage.recommendations(tenant_id=TENANT) if r.kind == "cheaper_fallback"
    ]
    assert fallback.details["model"] == MODEL and fallback.details["fallback"] == CHEAP
    assert fallback.figure == pytest.approx(1.0) and fallback.details["fallback_price_usd"] == pytest.approx(
        3e-4
    )
    assert ai.usage.ledger is ai.port("usage_ledger")
    with pytest.raises(ValidationError):
        await ai.usage.report(tenant_id=TENANT, group_by="tenant")
