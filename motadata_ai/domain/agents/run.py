"""One run of an agent's task loop: model calls, tool calls, approvals, limits and memory.

A :class:`TaskRun` drives one :class:`RunState` (new, or restored from a checkpoint) until the
model answers, a tool call awaits approval, or a limit stops it with a typed error carrying the
partial steps. It reads the agent's configuration at each step. It is about 400 lines because
the loop, its checkpoints and the folding of the request's usage into the task's totals share the
run's state; the tool calls, state and checkpoints themselves live in their own modules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.agents.budget import Budget
from motadata_ai.domain.agents.metrics import record_task
from motadata_ai.domain.agents.run_state import RunState
from motadata_ai.domain.agents.tool_calls import tool_reply
from motadata_ai.domain.agents.tools import ToolContext
from motadata_ai.domain.values.agents import (
    AgentStep,
    AgentTask,
    AgentTimeout,
    MaxIterationsExceeded,
    TaskBudgetExceeded,
    ToolCallRecord,
    ToolRetriesExceeded,
)
from motadata_ai.domain.values.calls import RequestUsage
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.telemetry import SpanHandle

if TYPE_CHECKING:
    from motadata_ai.domain.agents.agent import Agent

Decisions = tuple[bool | Mapping[str, bool], str | None]
"""A resume's approval decisions (one for all pending calls, or per call id) and its reason."""


class TaskRun:
    """The run of one task on ``agent``, charging ``ledger``."""

    def __init__(self, agent: Agent, state: RunState, ledger: Budget) -> None:
        self.agent = agent
        self.state = state
        self.ledger = ledger
        self._usage: RequestUsage | None = None  # the usage of this run's request, while it runs
        self._folded = (0, 0, 0.0)  # how much of it is already in the state's totals

    async def drive(
        self, *, recall: bool, decisions: Decisions | None = None, history_of: str | None = None
    ) -> AgentTask:
        """Run to an answer or an approval pause, in one ``invoke_agent`` span under the timeout
        (first reading conversation ``history_of``'s earlier turns from memory, when given)."""
        agent, state = self.agent, self.state
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent.name,
            "gen_ai.agent.id": agent.agent_id,
            "gen_ai.request.model": agent.model,
            "motadata.tenant.id": agent.tenant.tenant_id,
            "motadata.task.id": state.task_id,
        }
        if state.conversation_id:
            attributes["gen_ai.conversation.id"] = state.conversation_id
        if agent.temperature is not None:
            attributes["gen_ai.request.temperature"] = agent.temperature
        with agent.telemetry.span(f"invoke_agent {agent.name}", attributes=attributes) as span:
            state.trace_id = state.trace_id or span.trace_id
            started = time.perf_counter()
            deadline = asyncio.timeout(max(agent.timeout - state.elapsed_s, 0.0))
            try:
                async with (
                    deadline,
                    agent.gateway.request(
                        agent.tenant,
                        operation="agent.execute_task",
                        user_id=state.user_id,
                        conversation_id=state.conversation_id,
                    ) as origin,
                ):
                    self._usage, self._folded = origin.usage, (0, 0, 0.0)
                    state.request_id = origin.request_id
                    if history_of is not None:
                        await self._load_history(history_of)
                    if recall:
                        await self._recall()
                    if decisions is not None:
                        await self._apply_decisions(*decisions, span=span)
                    result = await self._loop(span)
            except TimeoutError as e:
                if not deadline.expired():
                    raise
                state.elapsed_s += time.perf_counter() - started
                partial = self.snapshot("failed", error="timeout")
                await self._remember_outcome(None, failure="timed out")
                span.set_attribute("motadata.agent.status", "timeout")
                raise AgentTimeout(
                    f"agent {agent.name!r} did not finish within {agent.timeout} s",
                    task=partial,
                    limit="timeout",
                    timeout=agent.timeout,
                    tenant_id=agent.tenant.tenant_id,
                ) from e
            finally:
                self._fold()
                self._usage = None
                span.set_attribute("gen_ai.usage.input_tokens", state.input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", state.output_tokens)
                span.set_attribute("motadata.agent.iterations", state.iterations)
            span.set_attribute("motadata.agent.status", result.status)
            record_task(agent.telemetry, result)
            return result

    def snapshot(
        self,
        status: str,
        *,
        answer: str | None = None,
        error: str | None = None,
        pending: Sequence[ToolCallRecord] = (),
    ) -> AgentTask:
        """The run as an :class:`AgentTask` in ``status``."""
        agent, state = self.agent, self.state
        input_tokens, output_tokens, cost_usd = self._totals()
        return AgentTask(
            id=state.task_id,
            agent_id=agent.agent_id,
            agent_name=agent.name,
            tenant_id=agent.tenant.tenant_id,
            user_id=state.user_id,
            conversation_id=state.conversation_id,
            task=state.task,
            status=status,
            answer=answer,
            steps=tuple(state.steps),
            pending_tool_calls=tuple(pending),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            trace_id=state.trace_id,
            request_id=state.request_id,
            error=error,
            created_at=state.created_at,
            finished_at=None if status in ("running", "awaiting_approval") else datetime.now(UTC),
        )

    async def _load_history(self, conversation_id: str) -> None:
        agent = self.agent
        if agent.memory is None:
            return
        turns = await agent.memory.history(agent.tenant, conversation_id)
        self.state.history = [agent._redacted(m) for m in turns]

    def _unfolded(self) -> tuple[int, int, float]:
        usage, (tokens_in, tokens_out, cost) = self._usage, self._folded
        if usage is None:
            return 0, 0, 0.0
        return usage.input_tokens - tokens_in, usage.output_tokens - tokens_out, usage.cost_usd - cost

    def _totals(self) -> tuple[int, int, float]:
        """The task's tokens and cost: earlier runs, remote workers, and this run's request."""
        state = self.state
        tokens_in, tokens_out, cost = self._unfolded()
        return state.input_tokens + tokens_in, state.output_tokens + tokens_out, state.cost_usd + cost

    def _fold(self) -> None:
        """Move this run's request usage so far into the state (before a checkpoint or the end)."""
        tokens_in, tokens_out, cost = self._unfolded()
        state = self.state
        state.input_tokens += tokens_in
        state.output_tokens += tokens_out
        state.cost_usd += cost
        if self._usage is not None:
            usage = self._usage
            self._folded = (usage.input_tokens, usage.output_tokens, usage.cost_usd)

    async def _recall(self) -> None:
        agent, state = self.agent, self.state
        if agent.memory is None or not state.user_id or agent.memory_config.recall_limit <= 0:
            return
        recalled = await agent.memory.recall(agent.tenant, state.user_id, state.task)
        state.memories = await agent.memory.prompt_lines(
            recalled, guard=agent.gateway, tenant=agent.tenant, model=agent.model
        )

    def _tool_context(self) -> ToolContext:
        return ToolContext(
            tenant_id=self.agent.tenant.tenant_id,
            agent_id=self.agent.agent_id,
            task_id=self.state.task_id,
            user_id=self.state.user_id,
            conversation_id=self.state.conversation_id,
            budget=self.ledger,
        )

    def _limit_error(
        self,
        error_type: type[TaskBudgetExceeded] | type[MaxIterationsExceeded],
        message: str,
        **fields: Any,
    ) -> Exception:
        return error_type(
            message,
            task=self.snapshot("failed", error=fields.get("limit", "limit")),
            tenant_id=self.agent.tenant.tenant_id,
            **fields,
        )

    async def _loop(self, span: SpanHandle) -> AgentTask:
        agent, state, ledger = self.agent, self.state, self.ledger
        specs = tuple(t.spec() for t in agent.tools.values())
        first = state.iterations  # the request this run was opened with pays for its first step
        while True:
            if state.iterations >= agent.max_iterations:
                await self._remember_outcome(None, failure="hit max_iterations")
                raise self._limit_error(
                    MaxIterationsExceeded,
                    f"agent {agent.name!r} made {state.iterations} model calls without finishing the task "
                    f"(max_iterations={agent.max_iterations})",
                    limit="max_iterations",
                    max_iterations=agent.max_iterations,
                )
            if which := ledger.exhausted:
                raise self._budget_error(which)
            fitted = agent.window.fit(
                system=state.system,
                latest=state.latest,
                tool_exchanges=state.exchanges,
                memories=state.memories,
                history=state.history,
            )
            request = ChatRequest(
                model=agent.model,
                messages=tuple(fitted.messages),
                tools=specs,
                temperature=agent.temperature,
            )
            if state.iterations > first:  # each further step of the task is one more request
                await agent.gateway.admit(agent.tenant, operation="agent.step")
            started = time.perf_counter()
            caller = TenantContext.of(agent.tenant, state.user_id)  # the cache lists answers per user
            response = await agent.gateway.generate(request, tenant_id=caller, purpose="agent_step")
            model_ms = (time.perf_counter() - started) * 1000
            state.iterations += 1
            usage = response.usage
            if self._usage is None:  # a gateway that keeps no request usage: count the answers
                state.input_tokens += usage.input_tokens
                state.output_tokens += usage.output_tokens
                state.cost_usd += response.cost_usd
            ledger.charge(tokens=usage.input_tokens + usage.output_tokens, cost_usd=response.cost_usd)
            self._save_ledger()
            calls = response.message.tool_calls
            step_fields: dict[str, Any] = {
                "index": len(state.steps),
                "model": response.model or agent.model,
                "content": response.message.content,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": response.cost_usd,
            }
            if not calls:
                state.steps.append(AgentStep(**step_fields, duration_ms=model_ms))
                if which := ledger.exceeded:
                    raise self._budget_error(which)
                return await self._finish(response.message.content or "")
            context = self._tool_context()
            outcomes = await agent.tool_calls.run_all(calls, context)
            self._add_delegated_usage(context)
            records = [record for record, _ in outcomes]
            state.steps.append(
                AgentStep(
                    **step_fields,
                    tool_calls=tuple(records),
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )
            self._save_ledger()
            if which := ledger.exceeded:
                raise self._budget_error(which)
            self._count_retries(records)
            pending = [r for r in records if r.status == "awaiting_approval"]
            if pending:
                state.pending_message = response.message
                state.pending_records = records
                state.pending_replies = {r.id: reply for r, reply in outcomes if reply is not None}
                self._fold()
                await agent.checkpoints.save(state, agent.memory_store)
                span.set_attribute("motadata.agent.pending_tool", pending[0].name)
                return self.snapshot("awaiting_approval", pending=pending)
            state.exchanges.append([response.message, *(reply for _, reply in outcomes if reply is not None)])

    def _save_ledger(self) -> None:
        self.state.budget_limit = self.ledger.limit
        self.state.budget_spent_tokens = self.ledger.spent_tokens
        self.state.budget_spent_cost_usd = self.ledger.spent_cost_usd

    def _add_delegated_usage(self, context: ToolContext) -> None:
        self.state.input_tokens += context.delegated_input_tokens
        self.state.output_tokens += context.delegated_output_tokens
        self.state.cost_usd += context.delegated_cost_usd

    def _budget_error(self, which: str) -> Exception:
        ledger = self.ledger
        return self._limit_error(
            TaskBudgetExceeded,
            f"agent {self.agent.name!r} ran out of its {which} budget "
            f"(spent {ledger.spent_tokens} tokens, ${ledger.spent_cost_usd:.6f}; limit {ledger.limit!r})",
            limit=f"budget_{which}",
            spent_tokens=ledger.spent_tokens,
            spent_cost_usd=ledger.spent_cost_usd,
            max_tokens=ledger.limit.max_tokens,
            max_cost_usd=ledger.limit.max_cost_usd,
        )

    def _count_retries(self, records: Sequence[ToolCallRecord]) -> None:
        agent, retries = self.agent, self.state.retries
        for record in records:
            if record.status in ("unknown_tool", "invalid_arguments"):
                retries[record.name] = retries.get(record.name, 0) + 1
                if retries[record.name] > agent.max_tool_retries:
                    raise ToolRetriesExceeded(
                        f"the model sent an unknown tool name or invalid arguments for {record.name!r} "
                        f"{retries[record.name]} times in a row "
                        f"(max_tool_retries={agent.max_tool_retries})",
                        task=self.snapshot("failed", error="tool_retries"),
                        tool=record.name,
                        max_retries=agent.max_tool_retries,
                        tenant_id=agent.tenant.tenant_id,
                    )
            elif record.status == "ok":
                retries[record.name] = 0

    async def _apply_decisions(
        self, approve: bool | Mapping[str, bool], reason: str | None, *, span: SpanHandle
    ) -> None:
        state = self.state
        message = state.pending_message
        if message is None:
            return
        context = self._tool_context()
        calls = {call.id: call for call in message.tool_calls}
        replies = dict(state.pending_replies)
        records: list[ToolCallRecord] = []
        for record in state.pending_records:
            if record.status != "awaiting_approval":
                records.append(record)
                continue
            granted = approve if isinstance(approve, bool) else bool(approve.get(record.id, False))
            call = calls[record.id]
            if granted:
                new_record, reply = await self.agent.tool_calls.run(call, context, approved=True)
                records.append(new_record)
                if reply is not None:
                    replies[record.id] = reply
            else:
                feedback = f"A human rejected the call to {record.name!r}" + (
                    f": {reason}" if reason else "."
                )
                feedback += " Do not call it again; continue without it."
                records.append(record.model_copy(update={"status": "rejected", "error": feedback}))
                replies[record.id] = tool_reply(call, feedback)
        self._add_delegated_usage(context)
        last = state.steps[-1]
        state.steps[-1] = last.model_copy(update={"tool_calls": tuple(records)})
        state.exchanges.append(
            [message, *(replies[call.id] for call in message.tool_calls if call.id in replies)]
        )
        state.pending_message = None
        state.pending_records = []
        state.pending_replies = {}
        span.set_attribute("motadata.agent.resumed", True)

    async def _finish(self, answer: str) -> AgentTask:
        agent, state = self.agent, self.state
        await self._remember_outcome(answer)
        if agent.memory is not None and state.conversation_id:
            await agent.memory.append_turn(
                agent.tenant, state.conversation_id, user_id=state.user_id, question=state.task, answer=answer
            )
        return self.snapshot("completed", answer=answer)

    async def _remember_outcome(self, answer: str | None, *, failure: str | None = None) -> None:
        agent, state = self.agent, self.state
        if agent.memory is None or not state.user_id or not agent.memory_config.remember_tasks:
            return
        if not await agent.memory.may_remember(agent.tenant, state.user_id):  # no consent to 'memory'
            return
        outcome = answer[:500] if answer is not None else f"failed ({failure})"
        tools = sorted({c.name for s in state.steps for c in s.tool_calls if c.status == "ok"})
        await agent.memory.remember(
            agent.tenant,
            state.user_id,
            f"Task: {state.task[:500]}\nOutcome: {outcome}",
            kind="episodic",
            importance=0.5 if failure is None else 0.6,
            metadata={
                "task_id": state.task_id,
                "agent_id": agent.agent_id,
                "tools": tools,
                "status": "completed" if failure is None else "failed",
            },
        )
