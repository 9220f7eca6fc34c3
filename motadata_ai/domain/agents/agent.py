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

This module holds the agent's configuration and public calls; the loop of one run is
:mod:`~motadata_ai.domain.agents.run`, tool execution :mod:`~motadata_ai.domain.agents.tool_calls`,
and paused runs :mod:`~motadata_ai.domain.agents.checkpoints`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Unpack

from pydantic import BaseModel

from motadata_ai.domain.agents.budget import Budget
from motadata_ai.domain.agents.checkpoints import RunCheckpoints
from motadata_ai.domain.agents.config import AgentConfig, AgentOptions
from motadata_ai.domain.agents.output import output_instructions, parse_output
from motadata_ai.domain.agents.run import TaskRun
from motadata_ai.domain.agents.run_state import RunState
from motadata_ai.domain.agents.tool_calls import ToolCalls
from motadata_ai.domain.agents.tools import Tool, ToolLike, build_toolset
from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.memory.manager import MemoryManager
from motadata_ai.domain.privacy.audit import AuditTrail, audit_action
from motadata_ai.domain.prompts.context import ContextWindow, TokenCounter
from motadata_ai.domain.prompts.redaction import Redactor
from motadata_ai.domain.prompts.templates import PromptTemplate
from motadata_ai.domain.retrieval.checks import check_conversation_id
from motadata_ai.domain.values.agents import AgentTask, TaskAlreadyResumed, TaskNotFound
from motadata_ai.domain.values.arguments import check_collection, check_mapping
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.llm import Message
from motadata_ai.domain.values.memory import MemoryConfig
from motadata_ai.domain.values.names import validate_name
from motadata_ai.domain.values.tenancy import TenantContext, check_user_id
from motadata_ai.ports.bus import BusPort
from motadata_ai.ports.gateway import GatewayPort
from motadata_ai.ports.memory import MemoryStorePort
from motadata_ai.ports.telemetry import TelemetryPort

__all__ = ["DEFAULT_INSTRUCTIONS", "Agent", "ChatGateway", "RunState"]

ChatGateway = GatewayPort
"""What an agent needs from the gateway: the one :class:`GatewayPort`."""

DEFAULT_INSTRUCTIONS = "You are a helpful assistant for IT service management. Use the tools when they help."


def _checked_output_type(output_type: Any) -> type[BaseModel] | None:
    if output_type is None or (isinstance(output_type, type) and issubclass(output_type, BaseModel)):
        return output_type
    raise ValidationError("output_type must be a pydantic model class", field="output_type")


class Agent:
    """An agent of one tenant. Construct it once and run many tasks (concurrently) on it.

    Its limits are ``config`` (an :class:`AgentConfig`, default: its defaults) with any of its
    fields given as keywords on top (``max_iterations=3``, ``timeout=30`` ...).
    """

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
        config: AgentConfig | None = None,
        model: str | None = None,
        memory: MemoryManager | MemoryStorePort | None = None,
        bus: BusPort | None = None,
        telemetry: TelemetryPort | None = None,
        token_counter: TokenCounter | None = None,
        redact: Redactor | None = None,
        output_type: type[BaseModel] | None = None,
        audit_trail: AuditTrail | None = None,
        **options: Unpack[AgentOptions],
    ) -> None:
        validate_name(agent_id, field="agent_id")
        self.config = (config or AgentConfig()).with_options(options)
        self.agent_id = agent_id
        self.name = name or agent_id
        self.gateway = gateway
        self.tenant = TenantContext.of(tenant)
        self.instructions = instructions
        self.tools: dict[str, Tool] = build_toolset(tools)
        self.max_iterations = self.config.max_iterations
        self.timeout = self.config.timeout
        self.temperature = self.config.temperature
        self.budget = self.config.budget
        resolved_model = model or getattr(gateway, "default_model", None)
        if not resolved_model:
            raise ConfigurationError("no model given and the gateway has no default_model", field="model")
        self.model: str = resolved_model
        self.telemetry = telemetry or NoTelemetry()
        self.redact = redact
        self._token_counter = token_counter
        self.memory: MemoryManager | None = None
        self.memory_config = memory_config or MemoryConfig()
        if memory is not None:
            self.attach_memory(memory)
        self.bus = bus
        self.tool_timeout = self.config.tool_timeout
        self.max_tool_retries = self.config.max_tool_retries
        self.window = ContextWindow(
            max_tokens=self.config.context_window,
            reserve_output=self.config.reserve_output_tokens,
            counter=token_counter,
        )
        self.checkpoints = RunCheckpoints(agent_id=agent_id, tenant_id=self.tenant.tenant_id)
        self.audit_trail = audit_trail
        """Where tasks, tool calls and approvals record their audit events (``None``: not audited)."""
        self.tool_calls = ToolCalls(self, audit_trail=audit_trail)
        self.output_type = _checked_output_type(output_type)

    # -- public API ---------------------------------------------------------------------------

    def attach_memory(self, memory: MemoryManager | MemoryStorePort) -> MemoryManager:
        """Give the agent memory (a manager, or a store it is built over with the agent's
        ``memory_config``); later tasks recall from and remember into it."""
        if isinstance(memory, MemoryStorePort):
            memory = MemoryManager(
                store=memory,
                embedder=self.gateway,
                config=self.memory_config,
                telemetry=self.telemetry,
                redact=self.redact,
                counter=self._token_counter,
            )
        if not isinstance(memory, MemoryManager):
            raise ValidationError(
                f"memory must be a MemoryManager or a memory store, not {type(memory).__name__}",
                field="memory",
            )
        self.memory = memory
        self.memory_config = memory.config
        return memory

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
        output_type: type[BaseModel] | None = None,
        load_history: bool = False,
    ) -> AgentTask:
        """Run ``task`` to an answer (or to an approval pause) and return the :class:`AgentTask`.

        ``history`` gives the earlier turns; ``load_history`` (with ``conversation_id``) reads them
        from the memory store instead, inside the task's ``invoke_agent`` span.

        ``budget`` shares a ledger with a parent task; without it the agent's ``budget`` limit
        applies to this task alone. ``output_type`` (a pydantic model; default: the agent's) asks
        for the final answer as that model's JSON and returns it parsed as ``task.output`` (a
        :class:`~motadata_ai.domain.gateway.errors.GuardrailViolation` when the answer is not
        one). Raises an :class:`~motadata_ai.domain.values.agents.AgentError` subclass when a
        limit stops the run.
        """
        if not isinstance(task, str) or not task.strip():
            raise ValidationError("task must be a non-empty string", field="task")
        check_text(task, "task")
        check_user_id(user_id)
        check_conversation_id(conversation_id)
        check_mapping("context", context)
        if budget is not None and not isinstance(budget, Budget):
            raise ValidationError(f"budget must be a Budget, got {type(budget).__name__}", field="budget")
        history = check_collection("history", history)
        if not all(isinstance(message, Message) for message in history):
            raise ValidationError("history must hold only Message values", field="history")
        output_type = _checked_output_type(output_type) or self.output_type
        system = self._system_prompt(context)
        if output_type is not None:
            system = f"{system}\n\n{output_instructions(output_type)}"
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
        history_of = conversation_id if load_history and self.memory is not None else None
        result = await TaskRun(self, state, ledger).drive(recall=True, history_of=history_of)
        if output_type is None or result.status != "completed":
            return result
        return result.model_copy(update={"output": parse_output(result, output_type, self.model)})

    async def chat(self, message: str, *, conversation_id: str, user_id: str | None = None) -> AgentTask:
        """One turn of a conversation; its history is persisted per ``conversation_id``."""
        if self.memory is None:
            raise ConfigurationError(
                f"agent {self.agent_id!r} has no memory store: chat needs one to keep sessions",
                field="memory",
            )
        if not conversation_id:
            raise ValidationError("conversation_id must not be empty", field="conversation_id")
        return await self.execute_task(
            message, user_id=user_id, conversation_id=conversation_id, load_history=True
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
        claim = await self.checkpoints.claim(task_id, self.memory_store)
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
            result = await TaskRun(self, state, ledger).drive(recall=False, decisions=(approve, reason))
            paused_again = result.status == "awaiting_approval"
            return result
        finally:
            if not paused_again:  # the run ended: the claimed checkpoint has done its job
                await self.checkpoints.drop(task_id, self.memory_store)

    async def remember(
        self, user_id: str, content: str, *, kind: str = "long_term", importance: float = 0.5
    ) -> None:
        """Store a fact or preference (``long_term``), a pattern (``semantic``) or an episode."""
        if self.memory is None:
            raise ConfigurationError(f"agent {self.agent_id!r} has no memory store", field="memory")
        await self.memory.remember(self.tenant, user_id, content, kind=kind, importance=importance)  # type: ignore[arg-type]

    # -- prompts ---------------------------------------------------------------------------

    @property
    def memory_store(self) -> MemoryStorePort | None:
        """The store of the agent's memory (and of its paused runs), when it has one."""
        return self.memory.store if self.memory is not None else None

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
