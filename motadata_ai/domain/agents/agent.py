"""The agent: a task loop over the gateway with tools, memory, sessions, approvals and limits.

One run: recall memories → build the prompt (fitted to the context window by priority) → call the
model through the gateway → run the tool calls it asks for (in parallel, validated, each under a
timeout) and feed the results back → repeat until the model answers. Limits always stop a run
with a typed error carrying the partial steps: ``max_iterations`` model calls, the wall-clock
``timeout``, the token/cost ``budget`` (shared with delegated sub-tasks), and ``max_tool_retries``
consecutive unknown-tool/invalid-argument calls per tool. A call to a tool that requires approval
pauses the run (``status="awaiting_approval"``); :meth:`Agent.resume` continues it, exactly once:
it claims the checkpoint atomically in the memory store, so of concurrent resumes (in any number of
processes) one runs the approved tools and the others raise ``TaskAlreadyResumed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from motadata_ai.domain.agents.budget import Budget
from motadata_ai.domain.agents.tools import (
    InvalidToolArguments,
    Tool,
    ToolContext,
    ToolLike,
    build_toolset,
    render_result,
)
from motadata_ai.domain.guardrails.context import (
    FLAG,
    WITHHELD_TOOL_RESULT,
    fenced,
)
from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.memory.manager import MemoryManager
from motadata_ai.domain.privacy.audit import audit_action
from motadata_ai.domain.prompts.context import ContextWindow, TokenCounter
from motadata_ai.domain.prompts.redaction import Redactor
from motadata_ai.domain.prompts.templates import PromptTemplate
from motadata_ai.domain.values.agents import (
    AgentStep,
    AgentTask,
    AgentTimeout,
    BudgetLimit,
    MaxIterationsExceeded,
    TaskAlreadyResumed,
    TaskBudgetExceeded,
    TaskNotFound,
    ToolCallRecord,
    ToolRetriesExceeded,
)
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.llm import (
    ChatRequest,
    Message,
    ToolCall,
)
from motadata_ai.domain.values.memory import Checkpoint, CheckpointClaim, MemoryConfig
from motadata_ai.domain.values.names import validate_name
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.bus import BusPort
from motadata_ai.ports.gateway import GatewayPort
from motadata_ai.ports.memory import MemoryStoreError, MemoryStorePort
from motadata_ai.ports.telemetry import SpanHandle, TelemetryPort

ChatGateway = GatewayPort
"""What an agent needs from the gateway: the one :class:`GatewayPort`."""

DEFAULT_INSTRUCTIONS = "You are a helpful assistant for IT service management. Use the tools when they help."


class RunState(BaseModel):
    """Everything a run needs to continue: saved as a checkpoint while awaiting approval."""

    task_id: str
    task: str
    user_id: str | None = None
    conversation_id: str | None = None
    system: str
    memories: list[str] = Field(default_factory=list)
    history: list[Message] = Field(default_factory=list)
    latest: Message
    exchanges: list[list[Message]] = Field(default_factory=list)
    steps: list[AgentStep] = Field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    iterations: int = 0
    retries: dict[str, int] = Field(default_factory=dict)
    elapsed_s: float = 0.0
    budget_limit: BudgetLimit = Field(default_factory=BudgetLimit)
    budget_spent_tokens: int = 0
    budget_spent_cost_usd: float = 0.0
    pending_message: Message | None = None
    pending_records: list[ToolCallRecord] = Field(default_factory=list)
    pending_replies: dict[str, Message] = Field(default_factory=dict)
    trace_id: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Agent:
    """An agent of one tenant. Construct it once and run many tasks (concurrently) on it."""

    def __init__(
        self,
        *,
        agent_id: str,
        name: str,
        gateway: ChatGateway,
        tenant: TenantContext | str,
        instructions: str | PromptTemplate = DEFAULT_INSTRUCTIONS,
        tools: Iterable[ToolLike] = (),
        memory_config: MemoryConfig | None = None,
        max_iterations: int = 10,
        timeout: float = 120.0,
        temperature: float | None = 0.7,
        budget: BudgetLimit | None = None,
        model: str | None = None,
        memory: MemoryManager | MemoryStorePort | None = None,
        bus: BusPort | None = None,
        telemetry: TelemetryPort | None = None,
        tool_timeout: float = 30.0,
        max_tool_retries: int = 3,
        context_window: int = 8192,
        reserve_output_tokens: int = 1024,
        token_counter: TokenCounter | None = None,
        redact: Redactor | None = None,
    ) -> None:
        validate_name(agent_id, field="agent_id")
        if max_iterations < 1:
            raise ValidationError("max_iterations must be at least 1", field="max_iterations")
        if timeout <= 0 or tool_timeout <= 0:
            raise ValidationError("timeout and tool_timeout must be positive", field="timeout")
        if max_tool_retries < 0:
            raise ValidationError("max_tool_retries must not be negative", field="max_tool_retries")
        self.agent_id = agent_id
        self.name = name or agent_id
        self.gateway = gateway
        self.tenant = TenantContext.of(tenant)
        self.instructions = instructions
        self.tools: dict[str, Tool] = build_toolset(tools)
        self.max_iterations = max_iterations
        self.timeout = timeout
        self.temperature = temperature
        self.budget = budget or BudgetLimit()
        resolved_model = model or getattr(gateway, "default_model", None)
        if not resolved_model:
            raise ConfigurationError("no model given and the gateway has no default_model", field="model")
        self.model: str = resolved_model
        self.telemetry = telemetry or NoTelemetry()
        if isinstance(memory, MemoryStorePort):
            memory = MemoryManager(
                store=memory,
                embedder=gateway,
                config=memory_config,
                telemetry=self.telemetry,
                redact=redact,
                counter=token_counter,
            )
        self.memory: MemoryManager | None = memory
        self.memory_config = memory.config if memory is not None else (memory_config or MemoryConfig())
        self.bus = bus
        self.tool_timeout = tool_timeout
        self.max_tool_retries = max_tool_retries
        self.window = ContextWindow(
            max_tokens=context_window, reserve_output=reserve_output_tokens, counter=token_counter
        )
        self.redact = redact
        self._local_checkpoints: dict[str, Checkpoint] = {}

    # -- public API ---------------------------------------------------------------------------

    def add_tool(self, tool: ToolLike) -> Tool:
        """Add a tool (a function or a :class:`Tool`) after construction."""
        merged = build_toolset([*self.tools.values(), tool])
        self.tools = merged
        return list(merged.values())[-1]

    @audit_action("agent.execute_task", resource=lambda agent, _a, _k: agent.agent_id)
    async def execute_task(
        self,
        task: str,
        *,
        user_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        budget: Budget | None = None,
        conversation_id: str | None = None,
        history: Sequence[Message] = (),
    ) -> AgentTask:
        """Run ``task`` to an answer (or to an approval pause) and return the :class:`AgentTask`.

        ``budget`` shares a ledger with a parent task; without it the agent's ``budget`` limit
        applies to this task alone. Raises an :class:`~motadata_ai.domain.values.agents.AgentError`
        subclass when a limit stops the run.
        """
        if not isinstance(task, str) or not task.strip():
            raise ValidationError("task must be a non-empty string", field="task")
        check_text(task, "task")
        system = self._system_prompt(context)
        ledger = budget if budget is not None else Budget(self.budget)
        state = RunState(
            task_id=uuid.uuid4().hex,
            task=task,
            user_id=user_id,
            conversation_id=conversation_id,
            system=system,
            history=[self._redacted(m) for m in history],
            latest=self._redacted(Message(role="user", content=task)),
            budget_limit=ledger.limit,
        )
        return await self._drive(state, ledger, recall=True)

    async def chat(self, message: str, *, conversation_id: str, user_id: str | None = None) -> AgentTask:
        """One turn of a conversation; its history is persisted per ``conversation_id``."""
        if self.memory is None:
            raise ConfigurationError(
                f"agent {self.agent_id!r} has no memory store: chat needs one to keep sessions",
                field="memory",
            )
        if not conversation_id:
            raise ValidationError("conversation_id must not be empty", field="conversation_id")
        history = await self.memory.history(self.tenant, conversation_id)
        return await self.execute_task(
            message, user_id=user_id, conversation_id=conversation_id, history=history
        )

    @audit_action("agent.approval", resource=lambda _, a, k: a[0] if a else k.get("task_id", ""))
    async def resume(
        self,
        task_id: str,
        *,
        approve: bool | Mapping[str, bool],
        reason: str | None = None,
        budget: Budget | None = None,
    ) -> AgentTask:
        """Continue a paused run: run (approve) or refuse (reject) its pending tool calls.

        ``approve`` is one decision for every pending call or a mapping of call id to decision
        (calls left out are rejected).

        Exactly once: the paused checkpoint is claimed atomically in the memory store before
        anything runs, so of concurrent resumes of one task (one agent object or many, in one
        process or many over one store) exactly one continues the run; every other raises
        :class:`~motadata_ai.domain.values.agents.TaskAlreadyResumed` having run nothing. A
        claimed checkpoint is deleted when the resumed run ends (answer or error), or replaced
        when it pauses again; one whose process died mid-run stays ``resumed`` and keeps
        answering ``TaskAlreadyResumed``: it is never re-run silently.
        """
        claim = await self._claim_checkpoint(task_id)
        if claim.outcome == "already_claimed":
            raise TaskAlreadyResumed(
                f"task {task_id!r} of agent {self.agent_id!r} was already resumed by another call",
                task_id=task_id,
                tenant_id=self.tenant.tenant_id,
            )
        if claim.checkpoint is None:
            raise TaskNotFound(
                f"agent {self.agent_id!r} has no task {task_id!r} awaiting approval",
                task_id=task_id,
                tenant_id=self.tenant.tenant_id,
            )
        state = RunState.model_validate(claim.checkpoint.state)
        ledger = budget or Budget(
            state.budget_limit,
            spent_tokens=state.budget_spent_tokens,
            spent_cost_usd=state.budget_spent_cost_usd,
        )
        paused_again = False
        try:
            result = await self._drive(state, ledger, recall=False, decisions=(approve, reason))
            paused_again = result.status == "awaiting_approval"
            return result
        finally:
            if not paused_again:  # the run ended: the claimed checkpoint has done its job
                await self._drop_claimed_checkpoint(task_id)

    async def remember(
        self, user_id: str, content: str, *, kind: str = "long_term", importance: float = 0.5
    ) -> None:
        """Store a fact or preference (``long_term``), a pattern (``semantic``) or an episode."""
        if self.memory is None:
            raise ConfigurationError(f"agent {self.agent_id!r} has no memory store", field="memory")
        await self.memory.remember(self.tenant, user_id, content, kind=kind, importance=importance)  # type: ignore[arg-type]

    # -- the run ------------------------------------------------------------------------------

    def _system_prompt(self, context: Mapping[str, Any] | None) -> str:
        if isinstance(self.instructions, PromptTemplate):
            system = self.instructions.render(dict(context or {}))
        else:
            system = self.instructions
            if context:
                lines = "".join(f"\n- {key}: {value}" for key, value in context.items())
                system = f"{system}\n\nContext:{lines}"
        return self.redact(system) if self.redact else system

    def _redacted(self, message: Message) -> Message:
        if self.redact is None or not message.content:
            return message
        return message.model_copy(update={"content": self.redact(message.content)})

    def _snapshot(
        self,
        state: RunState,
        status: str,
        *,
        answer: str | None = None,
        error: str | None = None,
        pending: Sequence[ToolCallRecord] = (),
    ) -> AgentTask:
        return AgentTask(
            id=state.task_id,
            agent_id=self.agent_id,
            agent_name=self.name,
            tenant_id=self.tenant.tenant_id,
            user_id=state.user_id,
            conversation_id=state.conversation_id,
            task=state.task,
            status=status,
            answer=answer,
            steps=tuple(state.steps),
            pending_tool_calls=tuple(pending),
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
            cost_usd=state.cost_usd,
            trace_id=state.trace_id,
            error=error,
            created_at=state.created_at,
            finished_at=None if status in ("running", "awaiting_approval") else datetime.now(UTC),
        )

    async def _drive(
        self,
        state: RunState,
        ledger: Budget,
        *,
        recall: bool,
        decisions: tuple[bool | Mapping[str, bool], str | None] | None = None,
    ) -> AgentTask:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": self.name,
            "gen_ai.agent.id": self.agent_id,
            "gen_ai.request.model": self.model,
            "motadata.tenant_id": self.tenant.tenant_id,
            "motadata.task.id": state.task_id,
        }
        if state.conversation_id:
            attributes["gen_ai.conversation.id"] = state.conversation_id
        if self.temperature is not None:
            attributes["gen_ai.request.temperature"] = self.temperature
        with self.telemetry.span(f"invoke_agent {self.name}", attributes=attributes) as span:
            state.trace_id = state.trace_id or span.trace_id
            started = time.perf_counter()
            deadline = asyncio.timeout(max(self.timeout - state.elapsed_s, 0.0))
            try:
                async with deadline:
                    if recall:
                        await self._recall(state)
                    if decisions is not None:
                        await self._apply_decisions(state, ledger, *decisions, span=span)
                    result = await self._loop(state, ledger, span)
            except TimeoutError as e:
                if not deadline.expired():
                    raise
                state.elapsed_s += time.perf_counter() - started
                partial = self._snapshot(state, "failed", error="timeout")
                await self._remember_outcome(state, None, failure="timed out")
                span.set_attribute("motadata.agent.status", "timeout")
                raise AgentTimeout(
                    f"agent {self.name!r} did not finish within {self.timeout} s",
                    task=partial,
                    limit="timeout",
                    timeout=self.timeout,
                    tenant_id=self.tenant.tenant_id,
                ) from e
            finally:
                span.set_attribute("gen_ai.usage.input_tokens", state.input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", state.output_tokens)
                span.set_attribute("motadata.agent.iterations", state.iterations)
            span.set_attribute("motadata.agent.status", result.status)
            return result

    async def _recall(self, state: RunState) -> None:
        if self.memory is None or not state.user_id or self.memory_config.recall_limit <= 0:
            return
        recalled = await self.memory.recall(self.tenant, state.user_id, state.task)
        state.memories = await self.memory.prompt_lines(
            recalled, guard=self.gateway, tenant=self.tenant, model=self.model
        )

    def _tool_context(self, state: RunState, ledger: Budget) -> ToolContext:
        return ToolContext(
            tenant_id=self.tenant.tenant_id,
            agent_id=self.agent_id,
            task_id=state.task_id,
            user_id=state.user_id,
            conversation_id=state.conversation_id,
            budget=ledger,
        )

    def _limit_error(
        self,
        error_type: type[TaskBudgetExceeded] | type[MaxIterationsExceeded],
        state: RunState,
        message: str,
        **fields: Any,
    ) -> Exception:
        return error_type(
            message,
            task=self._snapshot(state, "failed", error=fields.get("limit", "limit")),
            tenant_id=self.tenant.tenant_id,
            **fields,
        )

    async def _loop(self, state: RunState, ledger: Budget, span: SpanHandle) -> AgentTask:
        specs = tuple(t.spec() for t in self.tools.values())
        while True:
            if state.iterations >= self.max_iterations:
                await self._remember_outcome(state, None, failure="hit max_iterations")
                raise self._limit_error(
                    MaxIterationsExceeded,
                    state,
                    f"agent {self.name!r} made {state.iterations} model calls without finishing the task "
                    f"(max_iterations={self.max_iterations})",
                    limit="max_iterations",
                    max_iterations=self.max_iterations,
                )
            if which := ledger.exhausted:
                raise self._budget_error(state, ledger, which)
            fitted = self.window.fit(
                system=state.system,
                latest=state.latest,
                tool_exchanges=state.exchanges,
                memories=state.memories,
                history=state.history,
            )
            request = ChatRequest(
                model=self.model,
                messages=tuple(fitted.messages),
                tools=specs,
                temperature=self.temperature,
            )
            started = time.perf_counter()
            caller = TenantContext.of(self.tenant, state.user_id)  # the cache lists answers per user
            response = await self.gateway.generate(request, tenant=caller)
            model_ms = (time.perf_counter() - started) * 1000
            state.iterations += 1
            usage = response.usage
            state.input_tokens += usage.input_tokens
            state.output_tokens += usage.output_tokens
            state.cost_usd += response.cost_usd
            ledger.charge(tokens=usage.input_tokens + usage.output_tokens, cost_usd=response.cost_usd)
            self._save_ledger(state, ledger)
            calls = response.message.tool_calls
            step_fields: dict[str, Any] = {
                "index": len(state.steps),
                "model": response.model or self.model,
                "content": response.message.content,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": response.cost_usd,
            }
            if not calls:
                state.steps.append(AgentStep(**step_fields, duration_ms=model_ms))
                if which := ledger.exceeded:
                    raise self._budget_error(state, ledger, which)
                return await self._finish(state, response.message.content or "")
            context = self._tool_context(state, ledger)
            outcomes = await self._run_calls(calls, context)
            self._add_delegated_usage(state, context)
            records = [record for record, _ in outcomes]
            state.steps.append(
                AgentStep(
                    **step_fields,
                    tool_calls=tuple(records),
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )
            self._save_ledger(state, ledger)
            if which := ledger.exceeded:
                raise self._budget_error(state, ledger, which)
            self._count_retries(state, records)
            pending = [r for r in records if r.status == "awaiting_approval"]
            if pending:
                state.pending_message = response.message
                state.pending_records = records
                state.pending_replies = {r.id: reply for r, reply in outcomes if reply is not None}
                await self._save_checkpoint(state)
                span.set_attribute("motadata.agent.pending_tool", pending[0].name)
                return self._snapshot(state, "awaiting_approval", pending=pending)
            state.exchanges.append([response.message, *(reply for _, reply in outcomes if reply is not None)])

    def _save_ledger(self, state: RunState, ledger: Budget) -> None:
        state.budget_limit = ledger.limit
        state.budget_spent_tokens = ledger.spent_tokens
        state.budget_spent_cost_usd = ledger.spent_cost_usd

    def _add_delegated_usage(self, state: RunState, context: ToolContext) -> None:
        state.input_tokens += context.delegated_input_tokens
        state.output_tokens += context.delegated_output_tokens
        state.cost_usd += context.delegated_cost_usd

    def _budget_error(self, state: RunState, ledger: Budget, which: str) -> Exception:
        return self._limit_error(
            TaskBudgetExceeded,
            state,
            f"agent {self.name!r} ran out of its {which} budget "
            f"(spent {ledger.spent_tokens} tokens, ${ledger.spent_cost_usd:.6f}; limit {ledger.limit!r})",
            limit=f"budget_{which}",
            spent_tokens=ledger.spent_tokens,
            spent_cost_usd=ledger.spent_cost_usd,
            max_tokens=ledger.limit.max_tokens,
            max_cost_usd=ledger.limit.max_cost_usd,
        )

    def _count_retries(self, state: RunState, records: Sequence[ToolCallRecord]) -> None:
        for record in records:
            if record.status in ("unknown_tool", "invalid_arguments"):
                state.retries[record.name] = state.retries.get(record.name, 0) + 1
                if state.retries[record.name] > self.max_tool_retries:
                    raise ToolRetriesExceeded(
                        f"the model sent an unknown tool name or invalid arguments for {record.name!r} "
                        f"{state.retries[record.name]} times in a row "
                        f"(max_tool_retries={self.max_tool_retries})",
                        task=self._snapshot(state, "failed", error="tool_retries"),
                        tool=record.name,
                        max_retries=self.max_tool_retries,
                        tenant_id=self.tenant.tenant_id,
                    )
            elif record.status == "ok":
                state.retries[record.name] = 0

    async def _run_calls(
        self, calls: Sequence[ToolCall], context: ToolContext
    ) -> list[tuple[ToolCallRecord, Message | None]]:
        if len(calls) == 1:
            return [await self._prepare_and_run(calls[0], context)]
        return list(await asyncio.gather(*(self._prepare_and_run(call, context) for call in calls)))

    def _reply(self, call: ToolCall, content: str) -> Message:
        return Message(role="tool", tool_call_id=call.id, name=call.name, content=content)

    async def _prepare_and_run(
        self, call: ToolCall, context: ToolContext, *, approved: bool = False
    ) -> tuple[ToolCallRecord, Message | None]:
        tool = self.tools.get(call.name)
        if tool is None:
            available = ", ".join(sorted(self.tools)) or "none"
            feedback = (
                f"Unknown tool {call.name!r}. Available tools: {available}. "
                "Call one of them by its exact name."
            )
            record = ToolCallRecord(
                id=call.id, name=call.name, arguments=call.arguments, status="unknown_tool", error=feedback
            )
            return record, self._reply(call, feedback)
        try:
            arguments = tool.validate(call.arguments)
        except InvalidToolArguments as e:
            record = ToolCallRecord(
                id=call.id,
                name=call.name,
                arguments=call.arguments,
                status="invalid_arguments",
                error=e.feedback,
            )
            return record, self._reply(call, e.feedback)
        if tool.requires_approval and not approved:
            return ToolCallRecord(
                id=call.id, name=call.name, arguments=call.arguments, status="awaiting_approval"
            ), None
        return await self._execute(tool, call, arguments, context)

    @audit_action("agent.tool_call", resource=lambda _, a, _k: a[0].name)
    async def _execute(
        self, tool: Tool, call: ToolCall, arguments: dict[str, Any], context: ToolContext
    ) -> tuple[ToolCallRecord, Message]:
        timeout = tool.timeout or self.tool_timeout
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
            "gen_ai.agent.name": self.name,
            "motadata.tenant_id": self.tenant.tenant_id,
        }
        if tool.description:
            attributes["gen_ai.tool.description"] = tool.description[:200]
        with self.telemetry.span(f"execute_tool {tool.name}", attributes=attributes) as span:
            started = time.perf_counter()
            status = "ok"
            result: str | None = None
            error: str | None = None
            try:
                value = await asyncio.wait_for(tool.call(arguments, context), timeout)
                result = render_result(value)
            except TimeoutError:
                status = "timeout"
                error = f"Tool {tool.name!r} did not finish within {timeout} s and was abandoned."
            except Exception as e:  # a failing tool is reported to the model, never crashes the run
                status = "error"
                error = f"Tool {tool.name!r} failed: {type(e).__name__}: {e}"
                span.record_exception(e)
            duration = (time.perf_counter() - started) * 1000
            span.set_attribute("motadata.tool.status", status)
        if result is not None and self.redact is not None:
            result = self.redact(result)
        content = await self._guard_tool_output(result if result is not None else error or "")
        record = ToolCallRecord(
            id=call.id,
            name=call.name,
            arguments=call.arguments,
            status=status,
            result=result,
            error=error,
            duration_ms=duration,
        )
        return record, self._reply(call, content)

    async def _guard_tool_output(self, text: str) -> str:
        """A tool's result (or error) as the model may see it: the guardrails' verdict applied.

        Dropped: :data:`WITHHELD_TOOL_RESULT`; flagged: fenced as data under the guardrails' flag.
        """
        if not text:
            return text
        checked = await self.gateway.guard_context(
            [text], tenant=self.tenant, origin="tool_result", model=self.model
        )
        guarded = checked.texts[0]
        if guarded.dropped:
            return WITHHELD_TOOL_RESULT
        if guarded.flagged:
            return f"{FLAG}\n" + fenced("tool_result", [guarded.text])
        return guarded.text

    async def _apply_decisions(
        self,
        state: RunState,
        ledger: Budget,
        approve: bool | Mapping[str, bool],
        reason: str | None,
        *,
        span: SpanHandle,
    ) -> None:
        message = state.pending_message
        if message is None:
            return
        context = self._tool_context(state, ledger)
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
                new_record, reply = await self._prepare_and_run(call, context, approved=True)
                records.append(new_record)
                if reply is not None:
                    replies[record.id] = reply
            else:
                feedback = f"A human rejected the call to {record.name!r}" + (
                    f": {reason}" if reason else "."
                )
                feedback += " Do not call it again; continue without it."
                records.append(record.model_copy(update={"status": "rejected", "error": feedback}))
                replies[record.id] = self._reply(call, feedback)
        self._add_delegated_usage(state, context)
        last = state.steps[-1]
        state.steps[-1] = last.model_copy(update={"tool_calls": tuple(records)})
        state.exchanges.append(
            [message, *(replies[call.id] for call in message.tool_calls if call.id in replies)]
        )
        state.pending_message = None
        state.pending_records = []
        state.pending_replies = {}
        span.set_attribute("motadata.agent.resumed", True)

    async def _finish(self, state: RunState, answer: str) -> AgentTask:
        await self._remember_outcome(state, answer)
        if self.memory is not None and state.conversation_id:
            await self.memory.append_turn(
                self.tenant, state.conversation_id, user_id=state.user_id, question=state.task, answer=answer
            )
        return self._snapshot(state, "completed", answer=answer)

    async def _remember_outcome(
        self, state: RunState, answer: str | None, *, failure: str | None = None
    ) -> None:
        if self.memory is None or not state.user_id or not self.memory_config.remember_tasks:
            return
        if not await self.memory.may_remember(self.tenant, state.user_id):  # no consent to 'memory'
            return
        outcome = answer[:500] if answer is not None else f"failed ({failure})"
        tools = sorted({c.name for s in state.steps for c in s.tool_calls if c.status == "ok"})
        await self.memory.remember(
            self.tenant,
            state.user_id,
            f"Task: {state.task[:500]}\nOutcome: {outcome}",
            kind="episodic",
            importance=0.5 if failure is None else 0.6,
            metadata={
                "task_id": state.task_id,
                "agent_id": self.agent_id,
                "tools": tools,
                "status": "completed" if failure is None else "failed",
            },
        )

    # -- checkpoints --------------------------------------------------------------------------

    async def _save_checkpoint(self, state: RunState) -> None:
        checkpoint = Checkpoint(
            tenant_id=self.tenant.tenant_id,
            id=self._checkpoint_id(state.task_id),
            user_id=state.user_id,
            state=state.model_dump(mode="json"),
        )
        if self.memory is not None:
            await self.memory.store.save_checkpoint(checkpoint)
        else:
            self._local_checkpoints[checkpoint.id] = checkpoint

    async def _claim_checkpoint(self, task_id: str) -> CheckpointClaim:
        key = self._checkpoint_id(task_id)
        if self.memory is not None:
            return await self.memory.store.claim_checkpoint(self.tenant.tenant_id, key)
        found = self._local_checkpoints.get(key)  # no await until it is marked: atomic on the loop
        if found is None:
            return CheckpointClaim(outcome="missing")
        if found.status != "paused":
            return CheckpointClaim(outcome="already_claimed")
        claimed = found.model_copy(update={"status": "resumed", "claimed_at": datetime.now(UTC)})
        self._local_checkpoints[key] = claimed
        return CheckpointClaim(outcome="claimed", checkpoint=claimed)

    async def _drop_claimed_checkpoint(self, task_id: str) -> None:
        key = self._checkpoint_id(task_id)
        if self.memory is None:
            self._local_checkpoints.pop(key, None)
            return
        # A claimed checkpoint left behind (store down now) only ever answers TaskAlreadyResumed.
        with contextlib.suppress(MemoryStoreError):
            await self.memory.store.delete_checkpoint(self.tenant.tenant_id, key)

    def _checkpoint_id(self, task_id: str) -> str:
        return f"agent:{self.agent_id}:{task_id}"
