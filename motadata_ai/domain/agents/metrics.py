"""The metrics of an agent task: how many ran and how they ended, their steps, their tool calls."""

from __future__ import annotations

from motadata_ai.domain.values.agents import AgentTask
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, TelemetryPort

__all__ = ["record_task"]


def record_task(telemetry: TelemetryPort, task: AgentTask) -> None:
    """Count the finished ``task`` (``motadata.agent.tasks`` by status), record its steps
    (``motadata.agent.steps``) and count its tool calls by tool and status
    (``motadata.agent.tool_calls``)."""
    attributes = {TENANT_ATTRIBUTE: task.tenant_id, "gen_ai.agent.name": task.agent_name or task.agent_id}
    telemetry.add_counter(
        "motadata.agent.tasks", 1, attributes={**attributes, "motadata.agent.status": task.status}
    )
    telemetry.record_histogram("motadata.agent.steps", len(task.steps), unit="{step}", attributes=attributes)
    for call in task.tool_calls:
        telemetry.add_counter(
            "motadata.agent.tool_calls",
            1,
            attributes={**attributes, "gen_ai.tool.name": call.name, "motadata.tool.status": call.status},
        )
