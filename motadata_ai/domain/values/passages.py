"""The context-passage format shared by RAG, agents and the local extractive provider.

Context handed to a model is a block of lines, one passage a line::

    [1] VPN troubleshooting: Reset the VPN password from the self-service portal. Then reconnect.
    [2] Printer guide: Printers on floor 3 use the HP-300 toner.

``[n]`` is the passage's citation number, the title ends at the first ``": "``, and whitespace
inside title and text is collapsed to single spaces. Answers cite passages as ``[n]``. The lines
may sit in a system, user or tool message, among other text; :func:`parse_passages` finds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel

__all__ = ["NOT_ANSWERED", "QUESTION_MARKER", "Passage", "format_passages", "parse_passages", "question_of"]

QUESTION_MARKER = "Question:"
NOT_ANSWERED = "I could not find the answer in the knowledge base."
"""The one wording of a refusal: no passage was found, or the passages do not answer."""
_LINE = re.compile(r"^\s*\[(\d{1,6})\]\s+(.*\S)\s*$")
_SPACE = re.compile(r"\s+")


class Passage(ValueModel):
    """One context passage: its citation number, a title and the text."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=1, description="The citation number, cited as [index]")
    title: str = ""
    text: str


def _collapse(value: str) -> str:
    return _SPACE.sub(" ", value).strip()


def format_passages(passages: Iterable[Passage]) -> str:
    """The passages as ``[n] <title>: <text>`` lines (a title's own ``": "`` becomes ``" - "``)."""
    lines = []
    for passage in passages:
        title = _collapse(passage.title).replace(": ", " - ").rstrip(":") or "Untitled"
        lines.append(f"[{passage.index}] {title}: {_collapse(passage.text)}")
    return "\n".join(lines)


def parse_passages(text: str) -> list[Passage]:
    """Every ``[n] <title>: <text>`` line in ``text``, in order (other lines are ignored).

    A line without ``": "`` after its number is a passage with an empty title. When a number
    repeats, the first line wins.
    """
    found: dict[int, Passage] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        index = int(match.group(1))
        if index < 1 or index in found:
            continue
        body = match.group(2)
        title, separator, rest = body.partition(": ")
        if not separator:
            title, rest = "", body
        rest = _collapse(rest)
        if rest:
            found[index] = Passage(index=index, title=_collapse(title), text=rest)
    return list(found.values())


def question_of(text: str) -> str:
    """The question in a user message: the text after the last ``Question:`` marker, else all of it
    without passage lines."""
    position = text.rfind(QUESTION_MARKER)
    if position >= 0:
        return _collapse(text[position + len(QUESTION_MARKER) :])
    kept = [line for line in text.splitlines() if _LINE.match(line) is None]
    return _collapse(" ".join(kept))
