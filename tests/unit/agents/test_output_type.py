"""Agents with an ``output_type``: the schema is asked for in the system prompt, the final answer
comes back parsed as ``task.output``, and an answer that is not one is refused."""

from __future__ import annotations

import pydantic
import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM, scripted
from motadata_ai.domain.agents import Agent
from motadata_ai.domain.gateway.errors import GuardrailViolation
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.testing.models import tool_call

from .conftest import make_gateway


class Triage(pydantic.BaseModel):
    priority: int
    team: str


def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """Look up an incident ticket.

    Args:
        ticket_id: The ticket number, like INC-1.
    """
    return {"id": ticket_id, "state": "open", "service": "vpn"}


def agent_over(llm: FunctionLLM) -> Agent:
    return Agent(
        agent_id="triage", name="Triage", gateway=make_gateway(llm), tenant="acme", tools=[lookup_ticket]
    )


async def test_the_final_answer_is_parsed_into_the_output_type() -> None:
    seen: list[ChatRequest] = []
    replies = scripted(
        [
            tool_call("lookup_ticket", {"ticket_id": "INC-7"}),
            '```json\n{"priority": 2, "team": "network"}\n```',
        ]
    )

    def respond(request: ChatRequest):  # type: ignore[no-untyped-def]
        seen.append(request)
        return replies(request)

    task = await agent_over(FunctionLLM(respond)).execute_task("Triage INC-7", output_type=Triage)
    assert task.status == "completed"
    assert task.output == Triage(priority=2, team="network")
    system = seen[0].messages[0].content or ""
    assert '"priority"' in system and "JSON schema" in system


async def test_an_answer_that_is_not_the_output_type_is_refused() -> None:
    agent = agent_over(FunctionLLM(scripted(['{"priority": "urgent"}'])))
    with pytest.raises(GuardrailViolation) as caught:
        await agent.execute_task("Triage INC-8", output_type=Triage)
    assert caught.value.fields["stage"] == "output"
    assert any(reason.startswith("priority") for reason in caught.value.fields["reasons"])


async def test_without_an_output_type_the_answer_is_text_and_output_is_none() -> None:
    task = await agent_over(FunctionLLM(scripted(["INC-9 is open."]))).execute_task("Status of INC-9?")
    assert task.answer == "INC-9 is open." and task.output is None


async def test_output_type_must_be_a_pydantic_model() -> None:
    agent = agent_over(FunctionLLM(scripted(["x"])))
    with pytest.raises(ValidationError, match="output_type"):
        await agent.execute_task("Triage", output_type=dict)  # type: ignore[arg-type]


async def test_an_agent_made_with_an_output_type_applies_it_to_every_task() -> None:
    llm = FunctionLLM(scripted(['{"priority": 1, "team": "service desk"}']))
    agent = Agent(
        agent_id="triage", name="Triage", gateway=make_gateway(llm), tenant="acme", output_type=Triage
    )
    task = await agent.execute_task("Triage INC-10")
    assert task.output == Triage(priority=1, team="service desk")
    with pytest.raises(ValidationError, match="output_type"):
        Agent(agent_id="t", name="T", gateway=make_gateway(llm), tenant="acme", output_type=str)  # type: ignore[arg-type]
