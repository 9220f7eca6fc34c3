"""The first remote call of a process neither stalls the event loop nor outlives its timeout.

LiteLLM (seconds to import) is loaded on a worker thread inside the call's deadline. Each case
runs in a fresh interpreter, so LiteLLM is not imported yet; the checks are invariants (a ratio
of the loop's largest stall to the first call's own duration, the error type), not timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]


def run_first_call(mode: str) -> dict[str, object]:
    env = {**os.environ, "MOTADATA_ALLOW_MODEL_REQUESTS": "false", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.first_call_process", mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported_before"] is False  # a truly cold first call
    return result


def test_the_event_loop_keeps_ticking_while_the_first_call_loads_litellm() -> None:
    result = run_first_call("ticker")
    assert result["answered"] is True
    call_s = float(result["call_s"])  # type: ignore[arg-type]
    max_gap_s = float(result["max_gap_s"])  # type: ignore[arg-type]
    # before: the import ran on the loop, so one gap was (nearly) the whole first call
    assert max_gap_s < call_s / 2, result


def test_a_first_call_timeout_bounds_the_import_too() -> None:
    result = run_first_call("timeout")
    # before: the import blocked past the 0.05 s and the call then completed
    assert result["raised"] == "RetriesExhausted", result
    assert result["attempts"] == ["ProviderTimeout"], result
    assert result["litellm_loaded"] is False, result  # it gave up while LiteLLM was still loading
