"""``motadata_ai.connect_sync()`` from a plain script and from inside a running event loop (as in
Jupyter): the async core on a private loop, every call blocking until done, streams as iterators.

Each case is a fresh interpreter running a script, on the ``memory`` profile (no server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "examples" / "knowledge_base" / "password-reset.md"

PLAIN_SCRIPT = """
import json, sys
import motadata_ai
from motadata_ai import ChatRequest, Settings

settings = Settings(profile="memory", data_dir=sys.argv[2])
with motadata_ai.connect_sync(settings) as ai:
    request = ChatRequest(model="local/extractive", messages=[{"role": "user", "content": "Hi"}])
    reply = ai.gateway.generate(request, tenant_id="acme")
    rag = ai.rag("acme")
    report = rag.ingest(sys.argv[1])
    answer = rag.query("How do I reset my password?")
    unified = ai.query("How do I reset my password?", tenant_id="acme", mode="rag")
    question = ChatRequest(
        model="local/extractive",
        messages=[{"role": "system", "content": "[1] Reset: open the portal at https://portal.example.com."},
                  {"role": "user", "content": "How do I reset it?"}],
    )
    chunks = list(ai.gateway.stream(question, tenant_id="acme", no_cache=True))
    print(json.dumps({
        "reply_type": type(reply).__name__,
        "created": report.created,
        "answered": answer.answered,
        "cited": [s.title for s in answer.cited_sources],
        "unified_mode": unified.mode,
        "streamed": "".join(c.delta for c in chunks),
        "chunk_type": type(chunks[-1]).__name__,
    }))
"""

IN_LOOP_SCRIPT = """
import asyncio, json, sys
import motadata_ai
from motadata_ai import Settings

async def notebook_cell():
    # a running loop, as in Jupyter: the facade's calls run on its own loop, not this one
    ai = motadata_ai.connect_sync(Settings(profile="memory", data_dir=sys.argv[2]))
    try:
        ai.rag("acme").ingest(sys.argv[1])
        response = ai.rag("acme").query("How do I reset my password?")
    finally:
        ai.close()
    return {"answered": response.answered, "loop_running": asyncio.get_running_loop().is_running()}

print(json.dumps(asyncio.run(notebook_cell())))
"""

ERROR_SCRIPT = """
import json, sys
import motadata_ai
from motadata_ai import Settings

with motadata_ai.connect_sync(Settings(profile="memory", data_dir=sys.argv[2])) as ai:
    try:
        ai.rag("acme").query("anything")
    except motadata_ai.NotFound as error:
        print(json.dumps({"error": type(error).__name__, "tenant_id": error.fields.get("tenant_id")}))
"""


def run_script(script: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MOTADATA_") or k == "MOTADATA_ALLOW_MODEL_REQUESTS"
    }
    result = subprocess.run(
        [sys.executable, str(path), str(ARTICLE), str(tmp_path / "data")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_plain_script_uses_the_sdk_without_async(tmp_path: Path) -> None:
    out = run_script(PLAIN_SCRIPT, tmp_path)
    assert out["reply_type"] == "ChatResponse"
    assert out["created"] == 1
    assert out["answered"] is True and "password" in out["cited"][0].lower()
    assert out["unified_mode"] == "rag"
    assert "portal" in out["streamed"] and out["chunk_type"] == "StreamChunk"


def test_the_facade_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    out = run_script(IN_LOOP_SCRIPT, tmp_path)
    assert out == {"answered": True, "loop_running": True}


def test_sdk_errors_cross_the_facade_unchanged(tmp_path: Path) -> None:
    out = run_script(ERROR_SCRIPT, tmp_path)
    assert out == {"error": "KnowledgeBaseEmpty", "tenant_id": "acme"}
