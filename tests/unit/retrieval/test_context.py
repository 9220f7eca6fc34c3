"""Context building under a token budget and citations."""

from __future__ import annotations

from motadata_ai.domain.retrieval.context import (
    DEFAULT_INSTRUCTIONS,
    build_context,
    format_passage,
    mark_cited,
    parse_citations,
)
from motadata_ai.domain.retrieval.tokens import approximate_token_count
from motadata_ai.domain.values.documents import Source


def source(n: int, words: int = 50) -> Source:
    return Source(chunk_id=f"c{n}", document_id=f"d{n}", title=f"Doc {n}", text=" ".join(["word"] * words))


def test_passages_are_numbered_lines_with_collapsed_whitespace() -> None:
    assert format_passage(3, "VPN: setup", "# VPN: setup\n## Connect\n\n- open   the client\n- sign in") == (
        "[3] VPN - setup: Connect: open the client. sign in."
    )


def test_lists_and_tables_read_as_sentences() -> None:
    text = (
        "1. Open the portal on or off\n   the network\n2. Sign in\n\n"
        "| Priority | Target |\n| --- | --- |\n| P1 | 4 hours |"
    )
    assert format_passage(1, "T", text) == (
        "[1] T: Open the portal on or off the network. Sign in. Priority: P1, Target: 4 hours."
    )


def test_everything_fits_a_large_budget() -> None:
    built = build_context(
        [source(i) for i in range(3)], budget_tokens=1000, count_tokens=approximate_token_count
    )
    assert [s.citation for s in built.sources] == [1, 2, 3]
    lines = built.system_prompt.splitlines()
    assert lines[0] == DEFAULT_INSTRUCTIONS
    assert [line[:4] for line in lines[-5:]] == ["<<<p", "[1] ", "[2] ", "[3] ", "pass"]
    assert lines[-5:][::4] == ["<<<passages", "passages>>>"]
    assert not built.truncated
    header, passages, footer = "\n".join(lines[:-4]), lines[-4:-1], lines[-1]
    expected = (
        approximate_token_count(header)
        + approximate_token_count(footer)
        + 1
        + sum(approximate_token_count(line) + 1 for line in passages)
    )
    assert built.tokens == expected  # instructions, fence and every passage line, with its newline


def test_budget_cuts_the_last_passage_and_drops_the_rest() -> None:
    budget = 200  # the instructions, the data notice and the fence take about 80
    built = build_context(
        [source(i) for i in range(5)], budget_tokens=budget, count_tokens=approximate_token_count
    )
    assert built.truncated
    assert approximate_token_count(built.system_prompt) <= budget
    assert 2 <= len(built.sources) < 5
    assert built.system_prompt.splitlines()[-2].startswith(f"[{len(built.sources)}] ")


def test_tiny_budget_keeps_no_passage() -> None:
    built = build_context([source(1)], budget_tokens=10, count_tokens=approximate_token_count)
    assert built.sources == () and built.truncated


def test_citations_are_parsed_in_order_and_range() -> None:
    assert parse_citations("See [2] and [1, 3]; also [2] and [9].", max_number=3) == [2, 1, 3]
    built = build_context(
        [source(i) for i in range(3)], budget_tokens=1000, count_tokens=approximate_token_count
    )
    cited = mark_cited(built.sources, "Use the portal [2].")
    assert [s.cited for s in cited] == [False, True, False]
