"""The shared passage format: [n] <title>: <text> lines."""

from __future__ import annotations

import pytest

from motadata_ai.domain.values.passages import Passage, format_passages, parse_passages, question_of


def test_round_trip() -> None:
    passages = [
        Passage(index=1, title="VPN guide", text="Reset the password.\n  Then reconnect."),
        Passage(index=2, title="Printers", text="Floor 3 uses HP-300 toner."),
    ]
    text = format_passages(passages)
    assert text.splitlines() == [
        "[1] VPN guide: Reset the password. Then reconnect.",
        "[2] Printers: Floor 3 uses HP-300 toner.",
    ]
    assert parse_passages(text) == [
        Passage(index=1, title="VPN guide", text="Reset the password. Then reconnect."),
        Passage(index=2, title="Printers", text="Floor 3 uses HP-300 toner."),
    ]


def test_title_colons_and_empty_titles_survive() -> None:
    text = format_passages(
        [Passage(index=3, title="KB: VPN", text="a: b"), Passage(index=4, title=" ", text="x")]
    )
    assert text == "[3] KB - VPN: a: b\n[4] Untitled: x"
    assert parse_passages(text) == [
        Passage(index=3, title="KB - VPN", text="a: b"),
        Passage(index=4, title="Untitled", text="x"),
    ]


def test_parse_finds_lines_among_other_text() -> None:
    text = (
        "Answer from the context.\nContext:\n[2] Title: body one\nnot a passage [3] here\n[7] no title here\n"
    )
    assert parse_passages(text) == [
        Passage(index=2, title="Title", text="body one"),
        Passage(index=7, title="", text="no title here"),
    ]


def test_first_of_a_repeated_number_wins() -> None:
    assert [p.text for p in parse_passages("[1] A: first\n[1] B: second")] == ["first"]


def test_question_marker() -> None:
    assert question_of("[1] T: text\nQuestion:  How do I   reset it?") == "How do I reset it?"
    assert question_of("[1] T: text\nHow do I reset it?") == "How do I reset it?"
    assert question_of("plain question") == "plain question"


def test_passage_index_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Passage(index=0, title="t", text="x")
