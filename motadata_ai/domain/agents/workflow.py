"""Multi-agent workflows: a coordinator runs workers (local or remote agents) in sequence or in
parallel under one shared budget and merges their results.

``sequential``: each worker gets the task plus the answers of the workers before it (in its
``context``), and the last answer is the result. ``parallel``: every worker gets the task at once
and the answers are merged, one section per worker. A failed worker does not stop the others;
its error is kept in the result (``status="partial"``), except when a limit of the shared budget
stops the whole workflow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from motadata_ai.domain.agents.budget import Budget
from motadata_ai.domain.agents.delegation import Worker
from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.values.agents import AgentError, AgentTask, BudgetLimit, TaskBudgetExceeded
from motadata_ai.domain.values.errors import BudgetExceeded, MotadataError, ValidationError
from motadata_ai.ports.telemetry import TelemetryPort

WorkflowMode = Literal["sequential", "parallel"]


class WorkerOutcome(BaseModel):
    """One worker's result (``task``) or its failure (``error``)."""

    model_config = ConfigDict(frozen=True)

    agent_id: str
    name: str
    task: AgentTask | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The worker completed its task."""
        return self.task is not None and self.task.status == "completed"


class WorkflowResult(BaseModel):
    """The merged answer, each worker's outcome, and the usage of all of them."""

    model_config = ConfigDict(frozen=True)

    answer: str
    status: Literal["completed", "partial", "failed"]
    mode: WorkflowMode
    outcomes: tuple[WorkerOutcome, ...]
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens over every worker."""
        return self.input_tokens + self.output_tokens


Merger = Callable[[Sequence[WorkerOutcome]], str]


def merge_sections(outcomes: Sequence[WorkerOutcome]) -> str:
    """One section per completed worker: ``## <name>`` then its answer."""
    return "\n\n".join(
        f"## {o.name}\n{(o.task.answer if o.task else '') or ''}".strip() for o in outcomes if o.ok
    )


def merge_last(outcomes: Sequence[WorkerOutcome]) -> str:
    """The answer of the last worker that completed."""
    for outcome in reversed(outcomes):
        if outcome.ok and outcome.task is not None:
            return outcome.task.answer or ""
    return ""


class Coordinator:
    """Runs ``workers`` on one task, in ``mode``, sharing one budget."""

    def __init__(
        self,
        *,
        workers: Sequence[Worker],
        mode: WorkflowMode = "sequential",
        merge: Merger | None = None,
        budget: BudgetLimit | None = None,
        name: str = "coordinator",
        telemetry: TelemetryPort | None = None,
    ) -> None:
        if not workers:
            raise ValidationError("a coordinator needs at least one worker", field="workers")
        if mode not in ("sequential", "parallel"):
            raise ValidationError(f"mode must be 'sequential' or 'parallel', got {mode!r}", field="mode")
        self.workers = list(workers)
        self.mode: WorkflowMode = mode
        self.merge = merge or (merge_last if mode == "sequential" else merge_sections)
        self.budget = budget or BudgetLimit()
        self.name = name
        self.telemetry = telemetry or NoTelemetry()

    async def run(
        self,
        task: str,
        *,
        user_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        budget: Budget | None = None,
    ) -> WorkflowResult:
        """Run the workflow; raises :class:`BudgetExceeded` when the shared budget runs out."""
        if not isinstance(task, str) or not task.strip():
            raise ValidationError("task must be a non-empty string", field="task")
        ledger = budget or Budget(self.budget)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": self.name,
            "motadata.workflow.mode": self.mode,
            "motadata.workflow.workers": len(self.workers),
        }
        with self.telemetry.span(f"invoke_agent {self.name}", attributes=attributes):
            if self.mode == "parallel":
                outcomes = list(
                    await asyncio.gather(
                        *(self._one(w, task, user_id, context, ledger) for w in self.workers)
                    )
                )
            else:
                outcomes = []
                for worker in self.workers:
                    previous = [o for o in outcomes if o.ok]
                    step_context = dict(context or {})
                    if previous:
                        step_context["previous_results"] = "\n".join(
                            f"{o.name}: {o.task.answer if o.task else ''}" for o in previous
                        )
                    outcomes.append(await self._one(worker, task, user_id, step_context, ledger))
            completed = sum(1 for o in outcomes if o.ok)
            status: Literal["completed", "partial", "failed"] = (
                "completed" if completed == len(outcomes) else "partial" if completed else "failed"
            )
            tasks = [o.task for o in outcomes if o.task is not None]
            return WorkflowResult(
                answer=self.merge(outcomes),
                status=status,
                mode=self.mode,
                outcomes=tuple(outcomes),
                input_tokens=sum(t.input_tokens for t in tasks),
                output_tokens=sum(t.output_tokens for t in tasks),
                cost_usd=sum(t.cost_usd for t in tasks),
            )

    async def _one(
        self,
        worker: Worker,
        task: str,
        user_id: str | None,
        context: Mapping[str, Any] | None,
        ledger: Budget,
    ) -> WorkerOutcome:
        try:
            result = await worker.execute_task(task, user_id=user_id, context=context, budget=ledger)
        except BudgetExceeded:
            raise
        except AgentError as e:
            return WorkerOutcome(
                agent_id=worker.agent_id, name=worker.name, task=e.task, error=f"{type(e).__name__}: {e}"
            )
        except MotadataError as e:
            return WorkerOutcome(agent_id=worker.agent_id, name=worker.name, error=f"{type(e).__name__}: {e}")
        if which := ledger.exceeded:
            raise TaskBudgetExceeded(
                f"workflow {self.name!r} ran out of its {which} budget",
                task=result,
                limit=f"budget_{which}",
                spent_tokens=ledger.spent_tokens,
                spent_cost_usd=ledger.spent_cost_usd,
            )
        return WorkerOutcome(agent_id=worker.agent_id, name=worker.name, task=result)
