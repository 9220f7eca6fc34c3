"""The start-up status lines: each one reaches standard error whole, in one write."""

from __future__ import annotations

import argparse
import io
import sys

import pytest

from motadata_ai.cli._startup import status_printer


class _Writes(io.StringIO):
    """Standard error that records each ``write`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_each_status_line_is_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = _Writes()
    monkeypatch.setattr(sys, "stderr", stderr)
    say = status_printer(argparse.Namespace(json=False))
    say("starting the embedded database…")
    say("loading the embedding model…")
    assert stderr.writes == ["starting the embedded database…\n", "loading the embedding model…\n"]


def test_json_output_gets_no_status(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = _Writes()
    monkeypatch.setattr(sys, "stderr", stderr)
    status_printer(argparse.Namespace(json=True))("loading the embedding model…")
    assert stderr.writes == []
