"""``motadata-ai serve`` stopped with SIGTERM (what a supervisor sends) shuts down cleanly.

A real ``serve`` process on a fresh data directory (embedded PostgreSQL) answers one query, is
sent SIGTERM, and must then exit as a process that SIGTERM ended (143) only after closing what
it opened: no PostgreSQL server left running on its data directory, and the query's audit
events and usage records written. uvicorn re-raises the signal once it has stopped serving; with
SIGTERM's default action that ended the process inside ``connect()`` (exit -15) and left the
embedded server running every time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from motadata_ai.adapters.postgres.embedded import start_embedded_postgres

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TENANT = "acme"


def postgres_running(data_dir: Path) -> bool:
    found = subprocess.run(["pgrep", "-f", f"postgres -D {data_dir}"], capture_output=True, check=False)
    return found.returncode == 0


def environment(data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MOTADATA_") and not k.endswith("_API_KEY")
    }
    env.update(MOTADATA_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env


COMMAND = [sys.executable, "-m", "motadata_ai.cli"]


def launch_serve(data_dir: Path) -> subprocess.Popen[str]:
    """The tenant's one article ingested, then ``serve`` started on a port the kernel picks."""
    article = ROOT / "examples" / "knowledge_base" / "password-reset.md"
    ingest = subprocess.run(
        [*COMMAND, "ingest", "--tenant", TENANT, str(article)],
        cwd=ROOT, env=environment(data_dir), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    return subprocess.Popen(
        [*COMMAND, "serve", "--port", "0", "--no-auth"],
        cwd=ROOT,
        env=environment(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """:func:`launch_serve`, once it listens: the process and its URL."""
    server = launch_serve(data_dir)
    assert server.stderr is not None
    deadline = time.monotonic() + 180
    for line in server.stderr:  # uvicorn names the port the kernel gave it
        found = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return server, found.group(1)
        assert time.monotonic() < deadline, "serve did not start"
    raise AssertionError(f"serve exited before it listened (exit {server.wait()})")


def terminate(server: subprocess.Popen[str], data_dir: Path) -> tuple[int, bool]:
    """SIGTERM to ``server``: its exit code, and whether PostgreSQL still runs on ``data_dir``."""
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=120)
    return code, postgres_running(data_dir / "postgres")


def reap(server: subprocess.Popen[str], data_dir: Path) -> None:
    """A failed run must leave neither ``serve`` nor its PostgreSQL behind."""
    if server.poll() is None:
        server.kill()
        server.wait()
    if postgres_running(data_dir / "postgres"):
        subprocess.run(["pkill", "-f", f"postgres -D {data_dir / 'postgres'}"], check=False)


def test_sigterm_closes_everything_before_serve_exits(tmp_path: Path) -> None:
    server, url = start_serve(tmp_path)
    try:
        request = urllib.request.Request(
            f"{url}/query",
            data=json.dumps({"query": "How do I reset my password?", "tenant_id": TENANT}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as reply:
            assert reply.status == 200
        code, left_running = terminate(server, tmp_path)
    finally:
        reap(server, tmp_path)
    assert code == 128 + signal.SIGTERM, code
    assert not left_running

    database = start_embedded_postgres(tmp_path / "postgres")  # reopened: what serve wrote
    try:
        audit, usage = asyncio.run(counts(database.dsn))
    finally:
        database.stop()
    assert audit >= 1 and usage >= 1, (audit, usage)


def test_sigterm_while_serve_starts_stops_the_embedded_database(tmp_path: Path) -> None:
    # before, SIGTERM's default action ended the process inside connect(): exit -15, and the
    # embedded server it had started kept running on the data directory
    server = launch_serve(tmp_path)
    assert server.stderr is not None
    try:
        for line in server.stderr:  # the database is up once the model starts loading
            if "loading the embedding model" in line:
                break
        code, left_running = terminate(server, tmp_path)
    finally:
        reap(server, tmp_path)
    assert code == 128 + signal.SIGTERM, code
    assert not left_running


async def counts(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        audit = await conn.fetchval("SELECT count(*) FROM motadata_audit_log WHERE tenant_id = $1", TENANT)
        usage = await conn.fetchval("SELECT count(*) FROM motadata_usage WHERE tenant_id = $1", TENANT)
    finally:
        await conn.close()
    return int(audit), int(usage)
