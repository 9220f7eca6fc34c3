"""The agent task loop with a scripted model: tools, corrections, limits, approvals, sessions."""

from __future__ import annotations

import asyncio
import json

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM, scripted
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.domain.agents import Agent, Budget, tool
from motadata_ai.domain.prompts import MissingTemplateVariable, PromptTemplate
from motadata_ai.domain.values.agents import (
    AgentTimeout,
    BudgetExceeded,
    BudgetLimit,
    MaxIterationsExceeded,
    TaskNotFound,
    ToolRetriesExceeded,
)
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.models import ToolExercisingLLM, tool_call

from .conftest import make_gateway


def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """Look up an incident ticket.

    Args:
        ticket_id: The ticket number, like INC-1.
    """
    return {"id": ticket_id, "state": "open"}


def make_agent(llm, **options) -> Agent:  # type: ignore[no-untyped-def]
    options.setdefault("tools", [lookup_ticket])
    return Agent(agent_id="helper", name="Helper", gateway=make_gateway(llm), tenant="acme", **options)


def tool_messages(request: ChatRequest) -> list[Message]:
    return [m for m in request.messages if m.role == "tool"]


async def test_tool_call_then_result_then_answer() -> None:
    telemetry = RecordingTelemetry()
    llm = FunctionLLM(scripted([tool_call("lookup_ticket", {"ticket_id": "INC-7"}), "INC-7 is open."]))
    agent = make_agent(llm, telemetry=telemetry)

    task = await agent.execute_task("What is the state of INC-7?", user_id="u1")

    assert task.status == "completed"
    assert task.answer == "INC-7 is open."
    assert [c.status for c in task.tool_calls] == ["ok"]
    assert json.loads(task.tool_calls[0].result or "") == {"id": "INC-7", "state": "open"}
    assert len(task.steps) == 2
    assert task.input_tokens > 0 and task.total_tokens == sum(
        s.input_tokens + s.output_tokens for s in task.steps
    )
    second = llm.calls[1]
    assert second.tools[0].name == "lookup_ticket"
    replies = tool_messages(second)
    assert replies[0].tool_call_id == task.tool_calls[0].id and replies[0].name == "lookup_ticket"
    names = [s.name for s in telemetry.spans]
    assert "invoke_agent Helper" in names and "execute_tool lookup_ticket" in names
    root = next(s for s in telemetry.spans if s.name == "invoke_agent Helper")
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "Helper"
    assert root.attributes["gen_ai.usage.input_tokens"] == task.input_tokens
    tool_span = next(s for s in telemetry.spans if s.name == "execute_tool lookup_ticket")
    assert tool_span.attributes["gen_ai.tool.name"] == "lookup_ticket"
    assert tool_span.parent is root
    assert task.trace_id == root.trace_id != ""


async def test_invalid_arguments_are_fed_back_and_the_corrected_call_runs() -> None:
    llm = FunctionLLM(
        scripted(
            [
                tool_call("lookup_ticket", {"ticket": "INC-1"}),  # wrong field name
                tool_call("lookup_ticket", "{not json"),
                tool_call("lookup_ticket", {"ticket_id": "INC-1"}),
                "Done.",
            ]
        )
    )
    task = await make_agent(llm).execute_task("check INC-1")

    assert task.status == "completed"
    assert [c.status for c in task.tool_calls] == ["invalid_arguments", "invalid_arguments", "ok"]
    feedback = tool_messages(llm.calls[1])[0].content or ""
    assert "ticket_id" in feedback and "Field required" in feedback
    assert "not valid JSON" in (tool_messages(llm.calls[2])[1].content or "")


async def test_unknown_tool_is_fed_back_with_the_available_names() -> None:
    llm = FunctionLLM(scripted([tool_call("delete_everything", {}), "Sorry."]))
    task = await make_agent(llm).execute_task("wipe it")

    assert task.status == "completed"
    assert task.tool_calls[0].status == "unknown_tool"
    assert "lookup_ticket" in (tool_messages(llm.calls[1])[0].content or "")


async def test_retries_of_invalid_calls_are_bounded() -> None:
    llm = FunctionLLM(lambda _: tool_call("lookup_ticket", {"wrong": 1}))
    with pytest.raises(ToolRetriesExceeded) as caught:
        await make_agent(llm, max_tool_retries=2).execute_task("loop")
    assert caught.value.tool == "lookup_ticket"
    assert len(caught.value.steps) == 3
    assert caught.value.task is not None and caught.value.task.status == "failed"


async def test_loop_guard_stops_after_max_iterations_with_partial_steps() -> None:
    llm = FunctionLLM(lambda _: tool_call("lookup_ticket", {"ticket_id": "INC-1"}))
    with pytest.raises(MaxIterationsExceeded) as caught:
        await make_agent(llm).execute_task("never ends")
    assert len(llm.calls) == 10
    assert len(caught.value.steps) == 10
    assert all(c.status == "ok" for c in caught.value.task.tool_calls)  # type: ignore[union-attr]
    assert caught.value.limit == "max_iterations"


async def test_a_tool_that_raises_is_reported_to_the_model() -> None:
    def broken(ticket_id: str) -> str:
        """Always fails."""
        raise RuntimeError("backend down")

    llm = FunctionLLM(scripted([tool_call("broken", {"ticket_id": "X"}), "The backend is down."]))
    task = await make_agent(llm, tools=[broken]).execute_task("try")
    assert task.status == "completed"
    assert task.tool_calls[0].status == "error"
    assert "RuntimeError: backend down" in (tool_messages(llm.calls[1])[0].content or "")


async def test_a_hanging_tool_times_out_and_the_run_goes_on() -> None:
    @tool(timeout=0.05)
    async def hang() -> str:
        """Never returns."""
        await asyncio.Event().wait()
        return "never"

    llm = FunctionLLM(scripted([tool_call("hang", {}), "It hung."]))
    task = await make_agent(llm, tools=[hang]).execute_task("try")
    assert task.tool_calls[0].status == "timeout"
    assert "did not finish within 0.05 s" in (tool_messages(llm.calls[1])[0].content or "")
    assert task.answer == "It hung."


async def test_wall_clock_timeout_raises_with_partial_steps() -> None:
    async def slow_model(request: ChatRequest) -> Message | str:
        if not tool_messages(request):
            return tool_call("lookup_ticket", {"ticket_id": "INC-1"})
        await asyncio.sleep(10)
        return "too late"

    with pytest.raises(AgentTimeout) as caught:
        await make_agent(FunctionLLM(slow_model), timeout=0.2).execute_task("slow")
    assert len(caught.value.steps) == 1
    assert caught.value.steps[0].tool_calls[0].status == "ok"


async def test_parallel_tool_calls_run_concurrently() -> None:
    barrier = asyncio.Barrier(2)

    @tool(timeout=2)
    async def wait_for_peer(name: str) -> str:
        """Waits until the other call runs too."""
        await barrier.wait()
        return f"{name} met its peer"

    llm = FunctionLLM(
        scripted([tool_call([("wait_for_peer", {"name": "a"}), ("wait_for_peer", {"name": "b"})]), "both"])
    )
    task = await make_agent(llm, tools=[wait_for_peer]).execute_task("meet")
    assert [c.status for c in task.tool_calls] == ["ok", "ok"]
    assert [m.content for m in tool_messages(llm.calls[1])] == ["a met its peer", "b met its peer"]


async def test_approval_pauses_and_resumes_when_approved() -> None:
    executed: list[str] = []

    @tool(requires_approval=True)
    def restart_server(host: str) -> str:
        """Restart a server."""
        executed.append(host)
        return f"{host} restarted"

    llm = FunctionLLM(
        scripted(
            [
                tool_call([("restart_server", {"host": "web-1"}), ("lookup_ticket", {"ticket_id": "INC-9"})]),
                "web-1 was restarted.",
            ]
        )
    )
    agent = make_agent(llm, tools=[restart_server, lookup_ticket], memory=InMemoryMemoryStore())
    paused = await agent.execute_task("restart web-1 for INC-9", user_id="u1")

    assert paused.status == "awaiting_approval"
    assert [c.name for c in paused.pending_tool_calls] == ["restart_server"]
    assert executed == []
    assert len(llm.calls) == 1

    done = await agent.resume(paused.id, approve=True)
    assert done.status == "completed" and done.answer == "web-1 was restarted."
    assert executed == ["web-1"]
    assert [c.status for c in done.tool_calls] == ["ok", "ok"]
    assert [m.content for m in tool_messages(llm.calls[1])] == [
        "web-1 restarted",
        '{"id":"INC-9","state":"open"}',
    ]
    with pytest.raises(TaskNotFound):
        await agent.resume(paused.id, approve=True)


async def test_rejected_call_is_fed_back_and_never_runs() -> None:
    executed: list[str] = []

    @tool(requires_approval=True)
    def delete_user(name: str) -> str:
        """Delete a user account."""
        executed.append(name)
        return "deleted"

    llm = FunctionLLM(scripted([tool_call("delete_user", {"name": "bob"}), "I did not delete bob."]))
    agent = make_agent(llm, tools=[delete_user])
    paused = await agent.execute_task("delete bob")
    done = await agent.resume(paused.id, approve=False, reason="not allowed")
    assert executed == []
    assert done.tool_calls[0].status == "rejected"
    assert "rejected" in (tool_messages(llm.calls[1])[0].content or "")
    assert "not allowed" in (tool_messages(llm.calls[1])[0].content or "")


async def test_resume_of_an_unknown_task_is_a_typed_error() -> None:
    with pytest.raises(TaskNotFound):
        await make_agent(FunctionLLM(scripted(["x"]))).resume("nope", approve=True)


async def test_token_budget_stops_the_run() -> None:
    llm = FunctionLLM(lambda _: tool_call("lookup_ticket", {"ticket_id": "INC-1"}))
    with pytest.raises(BudgetExceeded) as caught:
        await make_agent(llm, budget=BudgetLimit(max_tokens=60)).execute_task("spend")
    assert caught.value.spent_tokens > 60
    assert 1 <= len(caught.value.steps) < 10


async def test_cost_budget_stops_the_run() -> None:
    from motadata_ai.domain.values.llm import ChatResponse, Usage

    def pricey(request: ChatRequest) -> ChatResponse:
        return ChatResponse(
            id="r",
            model=request.model,
            message=tool_call("lookup_ticket", {"ticket_id": "A"}),
            usage=Usage(input_tokens=1, output_tokens=1),
            cost_usd=0.4,
        )

    with pytest.raises(BudgetExceeded) as caught:
        await make_agent(FunctionLLM(pricey), budget=BudgetLimit(max_cost_usd=1.0)).execute_task("spend")
    assert caught.value.limit == "budget_cost"
    assert len(caught.value.steps) == 3


async def test_a_missing_template_variable_is_a_typed_error() -> None:
    template = PromptTemplate(name="desk", text="You help {{ team }} with {{ topic }}.")
    agent = make_agent(FunctionLLM(scripted(["ok"])), instructions=template)
    with pytest.raises(MissingTemplateVariable) as caught:
        await agent.execute_task("hi", context={"team": "network"})
    assert caught.value.missing == ["topic"]
    task = await agent.execute_task("hi", context={"team": "network", "topic": "VPN"})
    assert task.status == "completed"


async def test_chat_keeps_sessions_per_conversation() -> None:
    llm = FunctionLLM(lambda r: f"answer {len(r.messages)}")
    agent = make_agent(llm, tools=[], memory=InMemoryMemoryStore())
    await agent.chat("my laptop is slow", conversation_id="c1", user_id="u1")
    await agent.chat("and it is hot", conversation_id="c1", user_id="u1")
    await agent.chat("unrelated", conversation_id="c2", user_id="u1")
    contents = [m.content for m in llm.calls[1].messages]
    assert "my laptop is slow" in contents and contents[-1] == "and it is hot"
    assert "my laptop is slow" not in [m.content for m in llm.calls[2].messages]


async def test_chat_without_a_memory_store_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        await make_agent(FunctionLLM(scripted(["x"]))).chat("hi", conversation_id="c")


async def test_finished_tasks_become_episodic_memories_recalled_later() -> None:
    store = InMemoryMemoryStore()
    llm = FunctionLLM(lambda r: "reset the VPN token")
    agent = make_agent(llm, tools=[], memory=store)
    await agent.execute_task("VPN login fails for alice", user_id="alice")
    episodes = await store.list_records("acme", user_id="alice", kind="episodic")
    assert len(episodes) == 1 and "VPN login fails" in episodes[0].content
    await agent.execute_task("VPN login fails again", user_id="alice")
    system = llm.calls[1].messages[0].content or ""
    assert "Relevant memories:" in system and "VPN login fails for alice" in system


async def test_empty_task_is_rejected() -> None:
    with pytest.raises(ValidationError):
        await make_agent(FunctionLLM(scripted(["x"]))).execute_task("  ")


@pytest.mark.parametrize(
    "arguments",
    [{"conversation_id": 5}, {"conversation_id": ""}, {"conversation_id": ["c"]}, {"user_id": 7},
     {"user_id": b""}, {"context": ["ticket"]}, {"budget": 5}, {"history": None},
     {"history": ["hello"]}],
)  # fmt: skip
async def test_task_arguments_of_the_wrong_kind_are_refused(
    arguments: dict[str, object],
) -> None:
    llm = FunctionLLM(scripted(["x"]))
    with pytest.raises(ValidationError) as caught:
        await make_agent(llm).execute_task("reset the VPN token", **arguments)  # type: ignore[arg-type]
    assert caught.value.field == next(iter(arguments))
    assert llm.calls == []


async def test_tool_exercising_model_calls_every_tool_with_valid_arguments() -> None:
    calls: list[tuple[str, int]] = []

    def count_tickets(queue: str, limit: int = 10) -> int:
        """Count tickets in a queue."""
        calls.append((queue, limit))
        return 3

    task = await make_agent(ToolExercisingLLM(), tools=[lookup_ticket, count_tickets]).execute_task("go")
    assert task.status == "completed"
    assert {c.name for c in task.tool_calls} == {"lookup_ticket", "count_tickets"}
    assert all(c.status == "ok" for c in task.tool_calls)
    assert json.loads(task.answer or "{}")["count_tickets"] == "3"


async def test_shared_budget_ledger_is_charged_by_every_task() -> None:
    ledger = Budget.of(max_tokens=10_000)
    agent = make_agent(FunctionLLM(scripted(["fine"])), tools=[])
    first = await agent.execute_task("one", budget=ledger)
    second = await agent.execute_task("two", budget=ledger)
    assert ledger.spent_tokens == first.total_tokens + second.total_tokens
