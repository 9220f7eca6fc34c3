"""Tool descriptions from docstrings in the three common styles (read with griffe)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from motadata_ai.domain.agents import Tool
from motadata_ai.domain.agents.docstrings import parse_docstring


def google(ticket_id: str, team: str, notify: bool = False) -> str:
    """Reassign a ticket to a team.

    The ticket keeps its history.

    Args:
        ticket_id (str): The ticket, e.g. ``INC-42``.
        team: The team that takes it
            over (its queue name).
        notify: Whether to page the on-call engineer.

    Returns:
        The new assignment.

    Raises:
        LookupError: no such ticket.
    """
    return team


def numpy(ticket_id: str, team: str, notify: bool = False) -> str:
    """Reassign a ticket to a team.

    The ticket keeps its history.

    Parameters
    ----------
    ticket_id : str
        The ticket, e.g. ``INC-42``.
    team : str
        The team that takes it
        over (its queue name).
    notify : bool, optional
        Whether to page the on-call engineer.

    Returns
    -------
    str
        The new assignment.
    """
    return team


def sphinx(ticket_id: str, team: str, notify: bool = False) -> str:
    """Reassign a ticket to a team.

    The ticket keeps its history.

    :param ticket_id: The ticket, e.g. ``INC-42``.
    :type ticket_id: str
    :param str team: The team that takes it
        over (its queue name).
    :param notify: Whether to page the on-call engineer.
    :returns: The new assignment.
    :raises LookupError: no such ticket.
    """
    return team


@pytest.mark.parametrize("function", [google, numpy, sphinx], ids=["google", "numpy", "sphinx"])
def test_each_style_gives_the_tool_and_every_parameter_its_description(function: Callable[..., Any]) -> None:
    made = Tool.from_function(function)
    assert made.description == "Reassign a ticket to a team.\n\nThe ticket keeps its history."
    properties = made.parameters["properties"]
    assert properties["ticket_id"]["description"] == "The ticket, e.g. ``INC-42``."
    assert properties["team"]["description"] == "The team that takes it over (its queue name)."
    assert properties["notify"]["description"] == "Whether to page the on-call engineer."
    assert made.spec().description == made.description


def test_a_docstring_without_sections_is_all_description() -> None:
    assert parse_docstring("Look up a CI\nby its name.") == ("Look up a CI by its name.", {})
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("   ") == ("", {})


def test_an_undocumented_parameter_has_no_description() -> None:
    def partly(query: str, limit: int = 5) -> list[str]:
        """Search.

        Args:
            query: Words to look for.
        """
        return []

    properties = Tool.from_function(partly).parameters["properties"]
    assert properties["query"]["description"] == "Words to look for."
    assert "description" not in properties["limit"]
