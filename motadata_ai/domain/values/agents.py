"""Value types of agents: task results, steps, tool-call records, budgets, and the agent errors.

Error tree (under :class:`~motadata_ai.domain.values.errors.MotadataError`)::

    ConfigurationError
    └── ToolDefinitionError         a function cannot become a tool (bad signature, duplicate name)
    NotFound
    └── TaskNotFound                ``resume`` got an id with no paused task
        └── TaskAlreadyResumed      another ``resume`` claimed the paused task first
    ServiceError
    └── AgentError                  a run stopped; ``task`` is the partial AgentTask (steps so far)
        ├── AgentLimitExceeded      a limit that always stops a run
        │   ├── MaxIterationsExceeded   the model kept calling tools past ``max_iterations``
        │   ├── AgentTimeout            the wall-clock ``timeout`` elapsed
        │   └── TaskBudgetExceeded      the token or cost budget (shared with sub-tasks) ran out;
        │                               also a :class:`BudgetExceeded` (the SDK's one budget error)
        ├── ToolRetriesExceeded     the model kept sending unknown tools / invalid arguments
        └── DelegationFailed        a delegated task failed or its reply did not come in time
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import BudgetExceeded as BudgetExceeded  # the one budget error
from motadata_ai.domain.values.errors import ConfigurationError, NotFound, ServiceError

TaskStatus = Literal["running", "completed", "failed", "awaiting_approval"]

ToolCallStatus = Literal[
    "ok",  # the tool ran and returned
    "error",  # the tool raised; the message was fed back to the model
    "timeout",  # the tool exceeded its timeout; fed back
    "invalid_arguments",  # arguments were not JSON or violated the schema; fed back
    "unknown_tool",  # the model named a tool that does not exist; fed back
    "awaiting_approval",  # the run paused for a human decision on this call
    "rejected",  # a human rejected the call; fed back
]


def _now() -> datetime:
    return datetime.now(UTC)


class ToolCallRecord(ValueModel):
    """One tool call the model made and what came of it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = "{}"
    status: ToolCallStatus = "ok"
    result: str | None = None
    error: str | None = None
    duration_ms: float = 0.0


class AgentStep(ValueModel):
    """One iteration of the task loop: a model call and the tool calls it asked for."""

    model_config = ConfigDict(frozen=True)

    index: int
    model: str
    content: str | None = None
    tool_calls: tuple[ToolCallRecord, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    duration_ms: float = 0.0


class AgentTask(ValueModel):
    """The result of ``Agent.execute_task`` (or ``chat``): status, steps, answer and usage.

    ``input_tokens``, ``output_tokens`` and ``cost_usd`` sum the usage records of every call the
    task made (model steps, memory recall, tools' calls; a remote worker's reported usage).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    agent_id: str
    agent_name: str = ""
    tenant_id: str
    user_id: str | None = None
    conversation_id: str | None = None
    task: str
    status: TaskStatus = "running"
    answer: str | None = None
    steps: tuple[AgentStep, ...] = ()
    pending_tool_calls: tuple[ToolCallRecord, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    trace_id: str = ""
    error: str | None = None
    created_at: datetime = Field(default_factory=_now)
    finished_at: datetime | None = None
    request_id: str | None = Field(
        None, description="The request of the task's latest run (its ledger records)"
    )
    output: Any = Field(None, description="The answer parsed as the task's output_type, if one was asked for")

    @property
    def tool_calls(self) -> tuple[ToolCallRecord, ...]:
        """Every tool call of every step, in order."""
        return tuple(call for step in self.steps for call in step.tool_calls)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of every model call (delegated sub-tasks included)."""
        return self.input_tokens + self.output_tokens


class BudgetLimit(ValueModel):
    """Upper bounds on what one task (with every sub-task it delegates) may spend."""

    model_config = ConfigDict(frozen=True)

    max_tokens: int | None = Field(
        None, gt=0, le=10**12, description="Input + output tokens over all model calls"
    )
    max_cost_usd: float | None = Field(None, gt=0, le=10**9, description="Cost over all model calls, in USD")


class AgentError(ServiceError):
    """A run stopped before answering; ``task`` is the partial :class:`AgentTask` (its steps)."""

    task: AgentTask | None
    limit: str | None = None

    def __init__(self, message: str, *, task: AgentTask | None = None, **fields: Any) -> None:
        super().__init__(message, task=task, **fields)

    @property
    def steps(self) -> tuple[AgentStep, ...]:
        """The steps completed before the run stopped."""
        return self.task.steps if self.task else ()


class AgentLimitExceeded(AgentError):
    """A limit that always stops a run was hit (``limit`` names it)."""


class MaxIterationsExceeded(AgentLimitExceeded):
    """The model was still calling tools after ``max_iterations`` model calls."""


class AgentTimeout(AgentLimitExceeded):
    """The run took longer than ``timeout`` seconds of wall-clock time."""


class TaskBudgetExceeded(AgentLimitExceeded, BudgetExceeded):
    """The task's token or cost budget ran out; ``spent_tokens``/``spent_cost_usd`` say how much
    went. A :class:`~motadata_ai.domain.values.errors.BudgetExceeded`, like the gateway's."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None


class ToolRetriesExceeded(AgentError):
    """The model sent unknown tool names or invalid arguments more than ``max_retries`` times."""


class DelegationFailed(AgentError):
    """A task delegated to ``agent_id`` failed or no reply came within ``timeout``."""

    agent_id: str | None = None


class ToolDefinitionError(ConfigurationError):
    """A function cannot be turned into a tool (``tool`` names it)."""

    tool: str | None = None


class TaskNotFound(NotFound):
    """No paused task with this id exists for the tenant."""

    task_id: str
    tenant_id: str


class TaskAlreadyResumed(TaskNotFound):
    """The task was paused, but another ``resume`` (in this or any process) claimed it first.

    Its approved tools run once, in the resume that won; this one ran nothing. A subclass of
    :class:`TaskNotFound` because the task is no longer awaiting approval.
    """
