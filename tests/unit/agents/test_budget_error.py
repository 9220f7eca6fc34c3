"""An agent's budget running out is the SDK's one ``BudgetExceeded``, the same class the gateway
raises, so ``except motadata_ai.BudgetExceeded`` catches both."""

from __future__ import annotations

import pytest

import motadata_ai
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.agents import Agent
from motadata_ai.domain.gateway import errors as gateway_errors
from motadata_ai.domain.values.agents import AgentError, BudgetLimit, TaskBudgetExceeded
from motadata_ai.testing.models import tool_call

from .conftest import make_gateway

pytestmark = pytest.mark.asyncio


def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """Look up an incident ticket.

    Args:
        ticket_id: The ticket number, like INC-1.
    """
    return {"id": ticket_id, "state": "open"}


async def test_catching_the_sdks_budget_error_catches_an_agents() -> None:
    llm = FunctionLLM(lambda _: tool_call("lookup_ticket", {"ticket_id": "INC-1"}))
    agent = Agent(
        agent_id="helper",
        name="Helper",
        gateway=make_gateway(llm),
        tenant="acme",
        tools=[lookup_ticket],
        budget=BudgetLimit(max_tokens=60),
    )
    with pytest.raises(motadata_ai.BudgetExceeded) as caught:
        await agent.execute_task("spend")
    error = caught.value
    assert isinstance(error, TaskBudgetExceeded) and isinstance(error, AgentError)
    assert error.spent_tokens is not None and error.spent_tokens > 60
    assert error.task is not None and len(error.task.steps) >= 1
    assert gateway_errors.BudgetExceeded is motadata_ai.BudgetExceeded
