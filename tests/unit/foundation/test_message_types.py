"""OpenAI-style message dicts are type-checked: mypy (with the project's configuration) accepts the
shapes ``ChatRequest`` takes and reports a wrong role or key."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mypy import api as mypy_api

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import ChatRequest

ROOT = Path(__file__).resolve().parents[3]

GOOD = """
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai import MessageParam

history: list[MessageParam] = [{"role": "system", "content": "Be brief."}]
request = ChatRequest(
    model="m",
    messages=[
        *history,
        {"role": "user", "content": [{"type": "text", "text": "VPN down"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        Message(role="user", content="and now?"),
    ],
)
"""

BAD = """
from motadata_ai.domain.values.llm import ChatRequest

ChatRequest(model="m", messages=[{"role": "wizard", "content": "x"}])
ChatRequest(model="m", messages=[{"role": "user", "text": "x"}])
ChatRequest(model="m", messages=[{"role": "tool", "content": "result without its call id"}])
"""


def run_mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(source)
    limit = sys.getrecursionlimit()  # mypy raises the interpreter's; other tests rely on the default
    try:
        stdout, stderr, status = mypy_api.run(
            [
                "--config-file",
                str(ROOT / "pyproject.toml"),
                "--cache-dir",
                str(tmp_path / "mypy-cache"),
                "--follow-imports",
                "silent",
                "--no-error-summary",
                str(snippet),
            ]
        )
    finally:
        sys.setrecursionlimit(limit)
    return stdout + stderr, status


@pytest.fixture(scope="module")
def mypy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy")


def test_mypy_accepts_openai_style_message_dicts(mypy_dir: Path) -> None:
    output, status = run_mypy(mypy_dir, GOOD)
    assert status == 0, output


def test_mypy_reports_a_wrong_role_a_wrong_key_and_a_missing_key(mypy_dir: Path) -> None:
    output, status = run_mypy(mypy_dir, BAD)
    lines = [line for line in output.splitlines() if ": error:" in line]
    assert status == 1
    assert sorted({int(line.split(":")[1]) for line in lines}) == [4, 5, 6], output


def test_the_same_dicts_are_validated_at_run_time() -> None:
    request = ChatRequest(model="m", messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert request.messages[0].content == "hi"
    with pytest.raises(ValidationError):
        ChatRequest(model="m", messages=[{"role": "wizard", "content": "x"}])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        ChatRequest(model="m", messages=[{"role": "user", "text": "x"}])  # type: ignore[list-item]
