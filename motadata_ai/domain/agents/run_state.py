"""The state of one agent run: what a paused run saves as its checkpoint to continue later."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from motadata_ai.domain.values.agents import AgentStep, BudgetLimit, ToolCallRecord
from motadata_ai.domain.values.llm import Message


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
    request_id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
