"""Context building under a token budget, with numbered passages and citations mapped back.

The prompt contract with every answering model (the local extractive one included): the system
message holds the instructions, a note that the passages are quoted data, and then one passage per
line, ``[n] <title>: <text>`` with whitespace collapsed, fenced between ``<<<passages`` and
``passages>>>`` lines (see :mod:`motadata_ai.domain.guardrails.context`); the question is the last
user message; the answer cites ``[n]``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from motadata_ai.domain.guardrails.context import FLAG, data_notice, fence_close, fence_open
from motadata_ai.domain.retrieval.tokens import TokenCounter, truncate_to_tokens
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.passages import Passage, format_passages

DEFAULT_INSTRUCTIONS = (
    "Answer the user's question using only the numbered passages below. "
    "Cite the passages you use with their numbers in square brackets, like [1] or [2][3]. "
    "If the passages do not contain the answer, say that you do not know."
)
MIN_PASSAGE_TOKENS = 24
PASSAGES_FENCE = "passages"
_SPACE = re.compile(r"\s+")
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def collapse_whitespace(text: str) -> str:
    """One space for every whitespace run, stripped."""
    return _SPACE.sub(" ", text).strip()


_MARKDOWN_HEADING = re.compile(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$")
_MARKDOWN_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s+(.*)$")


def _sentence(text: str) -> str:
    text = text.strip()
    return text + "." if text and text[-1] not in ".!?:;" else text


def passage_text(text: str, *, title: str = "") -> str:
    """Chunk text as prose for one passage line.

    A Markdown heading that repeats the title is dropped; other headings lead into the text under
    them (``"Reset it yourself: Open the portal..."``) so a sentence never consists of a bare
    heading; list items (with their wrapped continuation lines) and table rows become sentences.
    """
    lines: list[str] = []
    item: list[str] | None = None
    header: list[str] | None = None

    def close_item() -> None:
        nonlocal item
        if item is not None:
            lines.append(_sentence(" ".join(item)))
            item = None

    for line in text.splitlines():
        heading = _MARKDOWN_HEADING.match(line)
        list_item = _MARKDOWN_ITEM.match(line)
        stripped = line.strip()
        if heading:
            close_item()
            body = heading.group(1).strip()
            if body and body.lower() != title.strip().lower():
                lines.append(body.rstrip(".:") + ":")
        elif list_item:
            close_item()
            item = [list_item.group(2).strip()]
        elif item is not None and stripped and line[:1].isspace():
            item.append(stripped)  # a wrapped line of the current list item
        elif stripped.startswith("|") and stripped.endswith("|"):
            close_item()
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue  # the header separator row
            if header is None:
                header = cells  # rows below read "column: value; column: value."
                continue
            pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c]
            lines.append(_sentence(", ".join(pairs)))  # not ";": sentence splitters cut there
        else:
            close_item()
            header = None
            lines.append(line)
    close_item()
    return collapse_whitespace(" ".join(lines))


def format_passage(number: int, title: str, text: str) -> str:
    """One passage line, ``[n] <title>: <text>`` (see :mod:`motadata_ai.domain.values.passages`)."""
    prose = passage_text(text, title=title) or collapse_whitespace(text) or "(empty)"
    return format_passages([Passage(index=number, title=title, text=prose)])


def parse_citations(answer: str, *, max_number: int) -> list[int]:
    """The passage numbers cited in ``answer`` (``[2]``, ``[1, 3]``), first-seen order, in range."""
    seen: list[int] = []
    for match in _CITATION.finditer(answer):
        for part in match.group(1).split(","):
            number = int(part)
            if 1 <= number <= max_number and number not in seen:
                seen.append(number)
    return seen


@dataclass(frozen=True)
class BuiltContext:
    """The system prompt and the sources it holds, numbered from 1 in prompt order."""

    system_prompt: str
    sources: tuple[Source, ...]
    tokens: int
    truncated: bool


def build_context(
    sources: Sequence[Source],
    *,
    budget_tokens: int,
    count_tokens: TokenCounter,
    instructions: str = DEFAULT_INSTRUCTIONS,
    flagged: Collection[str] = (),
) -> BuiltContext:
    """Number passages best first and add them while they fit ``budget_tokens``.

    The instructions and the fence count against the budget. A passage that does not fit whole is
    cut to the tokens left when at least :data:`MIN_PASSAGE_TOKENS` remain; later passages are
    left out. Passages whose ``chunk_id`` is in ``flagged`` carry the guardrails' flag in their title.
    """
    header = (
        instructions.strip()
        + "\n\n"
        + data_notice(PASSAGES_FENCE, "passages")
        + "\n\nPassages:\n"
        + fence_open(PASSAGES_FENCE)
    )
    footer = fence_close(PASSAGES_FENCE)
    used = count_tokens(header) + count_tokens(footer) + 1
    lines: list[str] = []
    numbered: list[Source] = []
    truncated = False
    for source in sources:
        number = len(numbered) + 1
        title = f"{FLAG} {source.title}" if source.chunk_id in flagged else source.title
        line = format_passage(number, title, source.text)
        tokens = count_tokens(line) + 1
        if used + tokens > budget_tokens:
            room = budget_tokens - used - 1
            if room >= MIN_PASSAGE_TOKENS:
                line = truncate_to_tokens(line, room, count_tokens)
                lines.append(line)
                numbered.append(source.model_copy(update={"citation": number}))
                used += count_tokens(line) + 1
            truncated = True
            break
        lines.append(line)
        numbered.append(source.model_copy(update={"citation": number}))
        used += tokens
    body = "\n".join(lines) if lines else "(no passages)"
    prompt = header + "\n" + body + "\n" + footer
    return BuiltContext(system_prompt=prompt, sources=tuple(numbered), tokens=used, truncated=truncated)


def mark_cited(sources: Sequence[Source], answer: str) -> tuple[Source, ...]:
    """``sources`` with ``cited`` set for every ``[n]`` the answer cites."""
    cited = set(parse_citations(answer, max_number=len(sources)))
    return tuple(s.model_copy(update={"cited": s.citation in cited}) for s in sources)
