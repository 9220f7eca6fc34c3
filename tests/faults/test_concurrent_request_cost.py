"""Concurrent requests of different users through a whole app: each response's cost is the sum of
its own request's ledger records, attributed to its own user; no request sees another's calls.

The scripted model answers after a short delay and spends a different number of tokens per user,
so the RAG queries, agent tasks and unified queries running at once interleave their calls.
"""

from __future__ import annotations

import asyncio
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
from motadata_ai.settings import Settings

pytestmark = pytest.mark.faults

MODEL = "function/scripted"
TENANT = "acme"
USERS = ("ann", "ben", "cat", "dan")


def respond(request: ChatRequest) -> Message | str:
    """Answers whose length depends on the asking user (named in the question)."""
    system = request.messages[0].content or ""
    last = request.messages[-1].content or ""
    if "Reply with exactly one word" in system:
        return "agent" if "needs" in last else "rag"
    if request.tools and not any(m.role == "tool" for m in request.messages):
        arguments = json.dumps({"query": last[:40]})
        return Message(
            role="assistant", tool_calls=(ToolCall(id="c1", name="knowledge_search", arguments=arguments),)
        )
    repeat = 1 + sum(ord(c) for c in last) % 7
    return "Reset the VPN token [1]. " * repeat


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
        requests_per_minute=100_000,
        burst_size=10_000,
        gateway={
            "default_model": MODEL,
            "enable_caching": False,
            "request_deduplication": False,
            "model_prices": {MODEL: {"input_per_token": 1e-6, "output_per_token": 2e-6}},
        },
    )
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(respond, delay=0.002)))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with connect(container=container, warm_up=False) as app:
        await app.rag(TENANT).ingest(
            [Document(id="kb-vpn", title="VPN", text="Reset the VPN token from the self-service portal.")]
        )
        yield app


async def test_concurrent_requests_each_cost_the_sum_of_their_own_records(ai: AI) -> None:
    async def rag(user: str) -> Any:
        return await ai.rag(TENANT).query(f"{user} asks: how do I fix the VPN?", user_id=user)

    async def agent(user: str) -> Any:
        return await ai.agent(TENANT).execute_task(f"{user} needs the VPN fixed", user_id=user)

    async def unified(user: str) -> Any:
        return await ai.query(f"{user} wants the VPN fixed", tenant_id=TENANT, user_id=user)

    async def both(user: str) -> Any:
        return await ai.query(f"{user} wants the VPN fixed", tenant_id=TENANT, user_id=user, mode="both")

    jobs = [(user, kind) for user in USERS for kind in (rag, agent, unified, both)] * 2
    responses = await asyncio.gather(*(kind(user) for user, kind in jobs))

    request_ids = [r.request_id for r in responses]
    assert None not in request_ids and len(set(request_ids)) == len(jobs)
    costs = set()
    for (user, _), response in zip(jobs, responses, strict=True):
        records = await ai.usage.records(tenant_id=TENANT, request_id=response.request_id)
        assert records and {r.user_id for r in records} == {user}
        assert response.cost_usd == pytest.approx(sum(r.cost_usd for r in records), abs=1e-12)
        assert response.input_tokens == sum(r.input_tokens for r in records)
        assert response.output_tokens == sum(r.output_tokens for r in records)
        costs.add(round(response.cost_usd, 12))
    assert len(costs) > 1  # the requests did cost different amounts
    everything = await ai.usage.report(tenant_id=TENANT, group_by="user")
    by_user = {row.key: row.cost_usd for row in everything.rows}
    for user in USERS:
        spent = sum(r.cost_usd for (u, _), r in zip(jobs, responses, strict=True) if u == user)
        assert by_user[user] == pytest.approx(spent, abs=1e-12)
