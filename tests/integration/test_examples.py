"""The README's Python quickstart runs as written on the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_quickstart_runs_every_use_case_on_the_embedded_default(tmp_path: Path) -> None:
    env = {**os.environ, "MOTADATA_DATA_DIR": str(tmp_path / "data")}
    env.pop("PYTEST_CURRENT_TEST", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert lines["gateway"] == "Restart the VPN client when the tunnel drops. [1]"
    assert lines["embeddings"] == "2 x 384"
    assert lines["ingested"] == "24 new, 0 unchanged"
    assert "self-service portal" in lines["rag"] and "Resetting your password" in lines["rag"]
    assert lines["agent"].startswith("completed") and "knowledge_search" in lines["agent"]
    assert lines["unified"].startswith("rag")
    assert lines["ml"].endswith(("-> yes", "-> no"))
