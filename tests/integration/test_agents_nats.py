"""Agents exchanging tasks over real NATS JetStream through the bus port, with a shared budget.

Each agent has its own connection (as separate processes would): the lead delegates a sub-task to
the triage agent and the triage agent asks the lead back, every task and reply crossing the real
server. A tenant's task never reaches another tenant's agent of the same name.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.nats import NatsBus
from motadata_ai.domain.agents import Agent, AgentServer, Budget, RemoteAgent, delegate_tool
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.values.agents import BudgetExceeded, DelegationFailed
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, Usage
from motadata_ai.testing.models import tool_call

pytestmark = [pytest.mark.nats]


def gateway(fn) -> Gateway:  # type: ignore[no-untyped-def]
    return Gateway(
        llm=FunctionLLM(fn),
        embeddings=HashEmbeddings(dimensions=32),
        config=GatewayConfig(
            default_model="scripted",
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
            request_deduplication=False,
        ),
    )


def user_task(request: ChatRequest) -> str:
    return next(m.content or "" for m in reversed(request.messages) if m.role == "user")


def has_tool_result(request: ChatRequest) -> bool:
    return any(m.role == "tool" for m in request.messages)


def with_usage(message: Message | str, tokens: int) -> ChatResponse:
    message = Message(role="assistant", content=message) if isinstance(message, str) else message
    return ChatResponse(
        id=uuid.uuid4().hex, model="scripted", message=message, usage=Usage(input_tokens=tokens)
    )


async def connect(url: str) -> NatsBus:
    return await NatsBus.connect(url)


async def test_two_agents_exchange_tasks_over_nats(nats_url: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    lead_bus, triage_bus = await connect(nats_url), await connect(nats_url)
    servers: list[AgentServer] = []
    try:
        lead_proxy = RemoteAgent(bus=triage_bus, tenant=tenant, agent_id="lead", timeout=15)
        triage_proxy = RemoteAgent(bus=lead_bus, tenant=tenant, agent_id="triage", timeout=15)

        def triage_model(request: ChatRequest) -> ChatResponse:
            task = user_task(request)
            if "classify" in task and not has_tool_result(request):
                return with_usage(tool_call("ask_lead", {"task": "which team owns VPN?"}), 20)
            if "classify" in task:
                owner = next(m.content for m in request.messages if m.role == "tool")
                return with_usage(f"P2, route to {owner}", 20)
            return with_usage("unknown", 5)

        def lead_model(request: ChatRequest) -> ChatResponse:
            task = user_task(request)
            if "which team" in task:
                return with_usage("the network team", 10)
            if not has_tool_result(request):
                return with_usage(tool_call("ask_triage", {"task": "classify INC-1: VPN down"}), 10)
            result = next(m.content for m in request.messages if m.role == "tool")
            return with_usage(f"INC-1: {result}", 10)

        lead = Agent(
            agent_id="lead",
            name="lead",
            gateway=gateway(lead_model),
            tenant=tenant,
            tools=[delegate_tool(triage_proxy)],
            bus=lead_bus,
        )
        triage = Agent(
            agent_id="triage",
            name="triage",
            gateway=gateway(triage_model),
            tenant=tenant,
            tools=[delegate_tool(lead_proxy)],
            bus=triage_bus,
        )
        servers = [await AgentServer(lead, lead_bus).start(), await AgentServer(triage, triage_bus).start()]

        ledger = Budget.of(max_tokens=10_000)
        task = await lead.execute_task("handle INC-1", user_id="u1", budget=ledger)

        assert task.status == "completed"
        assert task.answer == "INC-1: P2, route to the network team"
        # lead: 2 own calls (20) + triage: 2 calls (40) + lead answering triage: 1 call (10)
        assert task.total_tokens == 70
        assert ledger.spent_tokens == 70
        assert servers[0].handled == 1 and servers[1].handled == 1
    finally:
        for server in servers:
            await server.stop()
        await lead_bus.aclose()
        await triage_bus.aclose()


async def test_the_budget_is_shared_across_a_delegation_over_nats(nats_url: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    bus_a, bus_b = await connect(nats_url), await connect(nats_url)
    server: AgentServer | None = None
    try:
        spender = Agent(
            agent_id="spender",
            name="spender",
            tenant=tenant,
            bus=bus_b,
            gateway=gateway(lambda r: with_usage(tool_call("missing", {}), 40)),
        )
        server = await AgentServer(spender, bus_b).start()
        proxy = RemoteAgent(bus=bus_a, tenant=tenant, agent_id="spender", timeout=15)
        parent_llm_calls: list[ChatRequest] = []

        def parent_model(request: ChatRequest) -> ChatResponse:
            parent_llm_calls.append(request)
            return with_usage(tool_call("ask_spender", {"task": "spend"}), 10)

        parent = Agent(
            agent_id="parent",
            name="parent",
            tenant=tenant,
            gateway=gateway(parent_model),
            tools=[delegate_tool(proxy)],
        )
        ledger = Budget.of(max_tokens=100)
        with pytest.raises(BudgetExceeded) as caught:
            await parent.execute_task("go", budget=ledger)
        assert ledger.spent_tokens >= 100
        assert len(parent_llm_calls) == 1
        assert caught.value.task is not None and caught.value.task.total_tokens == ledger.spent_tokens
    finally:
        if server is not None:
            await server.stop()
        await bus_a.aclose()
        await bus_b.aclose()


async def test_a_task_for_another_tenant_never_reaches_the_agent(nats_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    bus = await connect(nats_url)
    server: AgentServer | None = None
    try:
        calls: list[ChatRequest] = []
        agent = Agent(
            agent_id="triage",
            name="triage",
            tenant=f"globex-{suffix}",
            gateway=gateway(lambda r: calls.append(r) or with_usage("globex only", 1)),
        )  # type: ignore[func-returns-value]
        server = await AgentServer(agent, bus).start()
        other = RemoteAgent(bus=bus, tenant=f"acme-{suffix}", agent_id="triage", timeout=1.0)
        with pytest.raises(DelegationFailed) as caught:
            await other.execute_task("hello")
        assert caught.value.reason == "timeout"
        assert calls == []
        own = RemoteAgent(bus=bus, tenant=f"globex-{suffix}", agent_id="triage", timeout=15)
        assert (await own.execute_task("hello")).answer == "globex only"
    finally:
        if server is not None:
            await server.stop()
        await bus.aclose()


async def test_agents_keep_exchanging_tasks_across_a_nats_restart(nats_server_factory) -> None:  # type: ignore[no-untyped-def]
    """A coordinator agent's tasks to a worker agent, with the server restarted mid-conversation:
    every task is answered, and the worker's model sees each task exactly once."""
    server = nats_server_factory()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    caller_bus, worker_bus = await connect(server.url), await connect(server.url)
    seen: dict[str, int] = {}

    async def worker_model(request: ChatRequest) -> ChatResponse:
        task = user_task(request)
        seen[task] = seen.get(task, 0) + 1
        await asyncio.sleep(0.3)  # long enough for the restart to fall in the middle of the work
        return with_usage(f"done: {task}", 1)

    worker = Agent(
        agent_id="worker", name="worker", gateway=gateway(worker_model), tenant=tenant, bus=worker_bus
    )
    agent_server = await AgentServer(worker, worker_bus).start()
    proxy = RemoteAgent(bus=caller_bus, tenant=tenant, agent_id="worker", timeout=60)
    tasks = [f"reset VPN token #{n}" for n in range(12)]
    try:
        before = [await proxy.execute_task(task) for task in tasks[:4]]
        pending = [asyncio.ensure_future(proxy.execute_task(task)) for task in tasks[4:]]
        await asyncio.sleep(0.1)
        assert not any(p.done() for p in pending)
        await asyncio.to_thread(server.stop)  # the server goes away mid-conversation...
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)  # ...and comes back on the same port and store
        after = await asyncio.gather(*pending)
        answers = [t.answer for t in [*before, *after]]
        assert answers == [f"done: {task}" for task in tasks]
        assert seen == {task: 1 for task in tasks}
        assert agent_server.handled == len(tasks)
    finally:
        await agent_server.stop()
        await caller_bus.aclose()
        await worker_bus.aclose()
