"""End to end on the embedded default: ``motadata-ai ingest`` then ``motadata-ai ask`` as subprocesses.

A fresh data directory, no service and no API key: embedded PostgreSQL + pgvector, local MiniLM
embeddings, local extractive answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from motadata_ai.domain.values.passages import NOT_ANSWERED

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
KB = ROOT / "examples" / "knowledge_base"


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MOTADATA_") and not key.endswith("_API_KEY")
    }
    env.update(MOTADATA_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return subprocess.run(
        [sys.executable, "-m", "motadata_ai.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ingest_then_ask_on_the_embedded_default(tmp_path: Path) -> None:
    ingest = run(["ingest", str(KB), "--json"], tmp_path)
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout.strip().splitlines()[-1])
    assert report["created"] >= 20 and report["failures"] == []

    ask = run(["ask", "How do I reset my password?", "--json"], tmp_path)
    assert ask.returncode == 0, ask.stderr
    response = json.loads(ask.stdout.strip().splitlines()[-1])
    assert response["answered"] is True
    cited = [s for s in response["sources"] if s["cited"]]
    assert cited, response
    assert "password" in cited[0]["title"].lower()
    assert "self-service portal" in response["answer"].lower()  # the article's first step
    assert "[1]" in response["answer"]

    text = run(["ask", "How do I reset my password?", "--top-k", "3", "--mode", "hybrid"], tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Sources:" in text.stdout and "[1]" in text.stdout
    assert "starting the embedded database…" in text.stderr  # says what start-up does

    again = run(["ingest", str(KB), "--json"], tmp_path)
    assert json.loads(again.stdout.strip().splitlines()[-1])["unchanged"] == report["created"]

    other = run(["ask", "How do I reset my password?", "--tenant", "nobody"], tmp_path)
    assert other.returncode == 2 and "nobody" in other.stderr  # NotFound: the usage exit code

    # a question the knowledge base does not answer: said plainly, no source listed, exit code 4
    refused = run(["ask", "What is on the cafeteria menu today?", "--json"], tmp_path)
    assert refused.returncode == 4, refused.stderr
    body = json.loads(refused.stdout.strip().splitlines()[-1])
    assert body["answered"] is False and body["answer"] == NOT_ANSWERED
    assert not any(s["cited"] for s in body["sources"])
    plain = run(["ask", "What is on the cafeteria menu today?"], tmp_path)
    assert plain.returncode == 4, plain.stderr
    assert plain.stdout.startswith(NOT_ANSWERED + "\n") and "Sources:" not in plain.stdout
