"""AgentConfig: the limits and model options of an agent, each default written once, each number bounded.

:class:`~motadata_ai.domain.agents.agent.Agent` takes one frozen :class:`AgentConfig` (``config=``,
from ``Settings.agents`` in an app) and any of its fields as keyword overrides
(:class:`AgentOptions`); a value out of bounds is refused with the SDK's
:class:`~motadata_ai.domain.values.errors.ValidationError` naming the field.
"""

from __future__ import annotations

from typing import Any, Self, TypedDict

from pydantic import ConfigDict, Field, model_validator

from motadata_ai.domain.values.agents import BudgetLimit
from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ValidationError

__all__ = ["AgentConfig", "AgentOptions"]


class AgentConfig(ValueModel):
    """An agent's limits: model calls, wall clock, tools, the context window and the budget."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_iterations: int = Field(10, ge=1, le=1000, description="Model calls one task may make")
    timeout: float = Field(120.0, gt=0, le=86_400, description="Seconds one task may run (wall clock)")
    temperature: float | None = Field(0.7, ge=0, le=2, description="Sampling temperature; None: the model's")
    tool_timeout: float = Field(
        30.0, gt=0, le=86_400, description="Seconds a tool call may take (a tool's own timeout wins)"
    )
    max_tool_retries: int = Field(
        3, ge=0, le=100, description="Consecutive unknown-tool/invalid-argument calls tolerated per tool"
    )
    context_window: int = Field(8192, ge=2, le=10_000_000, description="Tokens of the prompt window")
    reserve_output_tokens: int = Field(
        1024, ge=0, le=1_000_000, description="Tokens of the window kept for the answer"
    )
    budget: BudgetLimit = Field(
        default_factory=BudgetLimit, description="Tokens/cost one task (with its sub-tasks) may spend"
    )

    @model_validator(mode="after")
    def _reserve_below_window(self) -> Self:
        if self.reserve_output_tokens >= self.context_window:
            raise ValidationError(
                f"reserve_output_tokens must be below context_window, got {self.reserve_output_tokens} "
                f"with context_window {self.context_window}",
                field="reserve_output_tokens",
            )
        return self

    def with_options(self, options: AgentOptions | dict[str, Any]) -> AgentConfig:
        """This configuration with ``options`` on top (validated whole)."""
        if not options:
            return self
        return AgentConfig.model_validate({**dict(self), **options})


class AgentOptions(TypedDict, total=False):
    """Keyword overrides of :class:`AgentConfig` fields, as ``Agent(...)`` takes them."""

    max_iterations: int
    timeout: float
    temperature: float | None
    tool_timeout: float
    max_tool_retries: int
    context_window: int
    reserve_output_tokens: int
    budget: BudgetLimit
