"""Delegation (in process and over the in-memory bus), shared budgets, and coordinator workflows."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.memory.llm import FunctionLLM, scripted
from motadata_ai.domain.agents import (
    Agent,
    AgentServer,
    Budget,
    Coordinator,
    RemoteAgent,
    delegate_tool,
)
from motadata_ai.domain.values.agents import BudgetExceeded, BudgetLimit, DelegationFailed
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, Usage
from motadata_ai.testing.models import tool_call

from .conftest import make_gateway


def fixed_usage(reply: Message | str, tokens: int = 50):  # type: ignore[no-untyped-def]
    """A responder that answers ``reply`` and reports ``tokens`` input tokens per call."""

    def respond(request: ChatRequest) -> ChatResponse:
        message = Message(role="assistant", content=reply) if isinstance(reply, str) else reply
        return ChatResponse(id="x", model=request.model, message=message, usage=Usage(input_tokens=tokens))

    return respond


def worker(agent_id: str, llm: FunctionLLM, tenant: str = "acme", **options) -> Agent:  # type: ignore[no-untyped-def]
    return Agent(agent_id=agent_id, name=agent_id, gateway=make_gateway(llm), tenant=tenant, **options)


async def test_delegation_to_a_local_agent_shares_the_budget() -> None:
    child = worker("researcher", FunctionLLM(fixed_usage("the root cause is DNS", tokens=40)))
    parent_llm = FunctionLLM(
        lambda r: (
            tool_call("ask_researcher", {"task": "find the root cause"})
            if not any(m.role == "tool" for m in r.messages)
            else "Root cause: DNS."
        )
    )
    parent = worker("lead", parent_llm, tools=[delegate_tool(child)])

    ledger = Budget.of(max_tokens=10_000)
    task = await parent.execute_task("why is the portal down?", budget=ledger)

    assert task.answer == "Root cause: DNS."
    assert task.tool_calls[0].result == "the root cause is DNS"
    own = sum(s.input_tokens + s.output_tokens for s in task.steps)
    assert task.total_tokens == own + 40
    assert ledger.spent_tokens == task.total_tokens


async def test_a_sub_task_exhausting_the_shared_budget_stops_the_parent() -> None:
    child = worker("spender", FunctionLLM(fixed_usage(tool_call("noop", {}), tokens=30)), tools=[])
    parent_llm = FunctionLLM(fixed_usage(tool_call("ask_spender", {"task": "spend"}), tokens=10))
    parent = worker("lead", parent_llm, tools=[delegate_tool(child)], budget=BudgetLimit(max_tokens=100))

    with pytest.raises(BudgetExceeded) as caught:
        await parent.execute_task("go")
    assert caught.value.spent_tokens >= 100
    assert len(parent_llm.calls) == 1  # the parent never called its model again
    assert caught.value.task is not None and caught.value.task.total_tokens == 100


async def test_delegation_over_the_bus_charges_the_reply_to_the_senders_budget() -> None:
    bus = InMemoryBus()
    remote = worker("triage", FunctionLLM(fixed_usage("priority P2", tokens=25)), bus=bus)
    server = await AgentServer(remote, bus).start()
    try:
        proxy = RemoteAgent(bus=bus, tenant="acme", agent_id="triage", timeout=5)
        ledger = Budget.of(max_tokens=1000)
        result = await proxy.execute_task("triage INC-4", user_id="u1", budget=ledger)
        assert result.answer == "priority P2"
        assert result.tenant_id == "acme"
        assert ledger.spent_tokens == result.total_tokens == 25

        parent_llm = FunctionLLM(
            lambda r: (
                tool_call("ask_triage", {"task": "triage INC-5"})
                if not any(m.role == "tool" for m in r.messages)
                else "INC-5 is P2."
            )
        )
        parent = worker("lead", parent_llm, tools=[delegate_tool(proxy)])
        task = await parent.execute_task("handle INC-5", budget=Budget.of(max_tokens=1000))
        assert task.answer == "INC-5 is P2."
        assert task.tool_calls[0].result == "priority P2"
    finally:
        await server.stop()
        await bus.aclose()


async def test_the_remote_budget_is_what_is_left_of_the_senders() -> None:
    bus = InMemoryBus()
    remote = worker("looper", FunctionLLM(fixed_usage(tool_call("noop", {}), tokens=30)), bus=bus)
    server = await AgentServer(remote, bus).start()
    try:
        proxy = RemoteAgent(bus=bus, tenant="acme", agent_id="looper", timeout=5)
        ledger = Budget.of(max_tokens=100)
        ledger.charge(tokens=40, cost_usd=0)
        with pytest.raises(DelegationFailed) as caught:
            await proxy.execute_task("loop", budget=ledger)
        assert caught.value.reason == "failed"
        assert "BudgetExceeded" in (caught.value.task.error or "")  # type: ignore[union-attr]
        assert ledger.spent_tokens == 100  # 40 before + 60 spent remotely (two calls of 30)
    finally:
        await server.stop()
        await bus.aclose()


async def test_no_reply_within_the_timeout_is_a_delegation_failure() -> None:
    bus = InMemoryBus()
    try:
        proxy = RemoteAgent(bus=bus, tenant="acme", agent_id="nobody", timeout=0.1)
        with pytest.raises(DelegationFailed) as caught:
            await proxy.execute_task("hello?")
        assert caught.value.reason == "timeout"
    finally:
        await bus.aclose()


async def test_a_redelivered_task_is_not_run_twice() -> None:
    llm = FunctionLLM(fixed_usage("done"))
    agent = worker("once", llm)
    server = AgentServer(agent, InMemoryBus())
    envelope = Envelope(tenant_id="acme", type="agent.task", payload={"task": "do it"})
    first = await server.handle(envelope)
    second = await server.handle(envelope)
    assert first == second
    assert len(llm.calls) == 1


async def test_a_malformed_task_message_gets_a_failed_reply_not_a_crash() -> None:
    llm = FunctionLLM(fixed_usage("done"))
    server = AgentServer(worker("strict", llm), InMemoryBus())
    reply = await server.handle(Envelope(tenant_id="acme", type="agent.task", payload={"task": ""}))
    assert reply is not None and reply.payload["status"] == "failed"
    assert "invalid task message" in reply.payload["error"]
    assert llm.calls == []
    assert await server.handle(Envelope(tenant_id="acme", type="something.else")) is None


async def test_tasks_of_one_tenant_never_reach_another_tenants_agent() -> None:
    bus = InMemoryBus()
    globex_llm = FunctionLLM(fixed_usage("globex answer"))
    globex = worker("triage", globex_llm, tenant="globex")
    server = await AgentServer(globex, bus).start()
    try:
        proxy = RemoteAgent(bus=bus, tenant="acme", agent_id="triage", timeout=0.2)
        with pytest.raises(DelegationFailed):
            await proxy.execute_task("hello")
        assert globex_llm.calls == []
    finally:
        await server.stop()
        await bus.aclose()


async def test_sequential_workflow_passes_earlier_results_on() -> None:
    first_llm = FunctionLLM(scripted(["Category: network"]))
    second_llm = FunctionLLM(
        lambda r: "Routed with " + (r.messages[0].content or "").split("previous_results: ")[-1]
    )
    coordinator = Coordinator(workers=[worker("classify", first_llm), worker("route", second_llm)])
    result = await coordinator.run("INC-3: VPN drops")
    assert result.status == "completed"
    assert result.answer == "Routed with classify: Category: network"
    assert [o.agent_id for o in result.outcomes] == ["classify", "route"]
    assert result.total_tokens == sum(o.task.total_tokens for o in result.outcomes if o.task)


async def test_parallel_workflow_merges_and_keeps_failures() -> None:
    def fail(_: ChatRequest) -> str:
        from motadata_ai.ports.llm import ProviderUnavailable

        raise ProviderUnavailable("down", model="m")

    coordinator = Coordinator(
        workers=[
            worker("kb", FunctionLLM(scripted(["Article 12 applies."]))),
            worker("broken", FunctionLLM(fail)),
            worker("history", FunctionLLM(scripted(["Seen twice before."]))),
        ],
        mode="parallel",
    )
    result = await coordinator.run("INC-8")
    assert result.status == "partial"
    assert result.answer == "## kb\nArticle 12 applies.\n\n## history\nSeen twice before."
    broken = next(o for o in result.outcomes if o.agent_id == "broken")
    assert not broken.ok and "ProviderUnavailable" in (broken.error or "")


async def test_workflow_budget_is_shared_by_all_workers() -> None:
    workers = [worker(f"w{i}", FunctionLLM(fixed_usage("ok", tokens=40))) for i in range(3)]
    with pytest.raises(BudgetExceeded):
        await Coordinator(workers=workers, budget=BudgetLimit(max_tokens=100)).run("go")
