"""Tools from plain functions: schema, docstrings, validation, context injection, knowledge_search."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.agents import Agent, Tool, ToolContext, build_toolset, knowledge_search_tool, tool
from motadata_ai.domain.agents.tools import InvalidToolArguments, parse_docstring, render_result
from motadata_ai.domain.values.agents import ToolDefinitionError
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.testing.models import example_arguments, tool_call

from .conftest import make_gateway


class Filter(BaseModel):
    state: Literal["open", "closed"] = "open"
    assignee: str | None = None


async def search_tickets(
    ctx: ToolContext, query: str, limit: int = 5, filters: Filter | None = None
) -> list[str]:
    """Search tickets by text.

    Args:
        query: Words to look for.
        limit: At most this many tickets
            (newest first).
        filters: Optional filters.

    Returns:
        Ticket ids.
    """
    return [f"{ctx.tenant_id}:{query}:{limit}"]


def test_schema_comes_from_type_hints_and_docstring() -> None:
    made = Tool.from_function(search_tickets)
    assert made.name == "search_tickets"
    assert made.description == "Search tickets by text."
    props = made.parameters["properties"]
    assert set(props) == {"query", "limit", "filters"}  # the context parameter is not offered
    assert made.parameters["required"] == ["query"]
    assert props["query"] == {"type": "string", "description": "Words to look for."}
    assert props["limit"]["description"] == "At most this many tickets (newest first)."
    assert props["limit"]["default"] == 5
    assert "$defs" in made.parameters and made.parameters["additionalProperties"] is False
    assert made.context_parameter == "ctx"


def test_sphinx_docstrings_are_read_too() -> None:
    summary, params = parse_docstring(
        """Close a ticket.

        :param ticket_id: The ticket.
        :param str note: Why.
        """
    )
    assert summary == "Close a ticket."
    assert params == {"ticket_id": "The ticket.", "note": "Why."}


def test_validation_reports_every_problem() -> None:
    made = Tool.from_function(search_tickets)
    assert made.validate('{"query": "vpn", "limit": "3"}') == {"query": "vpn", "limit": 3, "filters": None}
    with pytest.raises(InvalidToolArguments) as caught:
        made.validate('{"limit": "many", "extra": 1, "filters": {"state": "pending"}}')
    feedback = caught.value.feedback
    assert "query: Field required" in feedback
    assert "limit:" in feedback and "extra: Extra inputs are not permitted" in feedback
    assert "filters.state" in feedback
    with pytest.raises(InvalidToolArguments):
        made.validate("[1, 2]")


def test_example_arguments_satisfy_the_schema() -> None:
    made = Tool.from_function(search_tickets)
    assert made.validate(__import__("json").dumps(example_arguments(made.parameters)))["query"]


async def test_context_is_injected() -> None:
    made = Tool.from_function(search_tickets)
    context = ToolContext(tenant_id="acme", agent_id="a", task_id="t")
    assert await made.call({"query": "vpn", "limit": 2, "filters": None}, context) == ["acme:vpn:2"]


def test_bad_definitions_are_configuration_errors() -> None:
    def variadic(*args: int) -> int:
        return 0

    with pytest.raises(ToolDefinitionError):
        Tool.from_function(variadic)
    with pytest.raises(ToolDefinitionError):
        Tool.from_function(search_tickets, name="bad name!")
    with pytest.raises(ToolDefinitionError):
        build_toolset([search_tickets, search_tickets])
    with pytest.raises(ToolDefinitionError):
        tool(timeout=0)(search_tickets)


def test_results_render_as_text_for_the_model() -> None:
    assert render_result("plain") == "plain"
    assert render_result({"a": [1, 2]}) == '{"a":[1,2]}'
    assert render_result(Filter()) == '{"state":"open","assignee":null}'
    assert render_result(object()).startswith("<object")


class FakeRetriever:
    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.calls: list[tuple[str, int | None, str]] = []

    async def retrieve(  # type: ignore[no-untyped-def]
        self, question: str, *, top_k: int | None = None, mode: str = "hybrid", filters=None, guarded=False
    ):
        self.calls.append((question, top_k, mode))
        return self.sources


async def test_knowledge_search_returns_numbered_passages() -> None:
    retriever = FakeRetriever(
        [
            Source(chunk_id="c1", document_id="d1", title="VPN guide", text="Reset the token.\nThen retry."),
            Source(chunk_id="c2", document_id="d2", text="MFA is required."),
        ]
    )
    made = knowledge_search_tool(retriever, top_k=3)
    assert made.name == "knowledge_search"
    text = await made.call({"query": "vpn"}, ToolContext(tenant_id="acme", agent_id="a", task_id="t"))
    assert text == "[1] VPN guide: Reset the token. Then retry.\n[2] d2: MFA is required."
    assert retriever.calls == [("vpn", 3, "hybrid")]
    assert "No passages" in await knowledge_search_tool(FakeRetriever([])).call(
        {"query": "x"}, ToolContext(tenant_id="acme", agent_id="a", task_id="t")
    )


async def test_an_agent_answers_from_knowledge_search() -> None:
    retriever = FakeRetriever([Source(chunk_id="c1", document_id="d1", title="VPN", text="Use port 443.")])

    def model(request: ChatRequest) -> object:
        results = [m for m in request.messages if m.role == "tool"]
        if not results:
            return tool_call("knowledge_search", {"query": "vpn port"})
        return "Per [1]: " + (results[0].content or "").split(": ", 1)[1]

    agent = Agent(
        agent_id="kb",
        name="kb",
        gateway=make_gateway(FunctionLLM(model)),
        tenant="acme",  # type: ignore[arg-type]
        tools=[knowledge_search_tool(retriever)],
    )
    task = await agent.execute_task("Which port does the VPN use?")
    assert task.answer == "Per [1]: Use port 443."


@pytest.mark.parametrize("tools", [5, None, "lookup", {"lookup": len}, object()])
def test_tools_that_are_not_a_collection_of_tools_are_a_definition_error(tools: object) -> None:
    with pytest.raises(ToolDefinitionError):
        build_toolset(tools)  # type: ignore[arg-type]
