"""The embedded server: start, reuse by a second caller, stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.embedded import start_embedded_postgres

pytestmark = pytest.mark.postgres


def test_second_start_on_same_directory_reuses_the_running_server(tmp_path: Path) -> None:
    first = start_embedded_postgres(tmp_path / "pgdata")
    try:
        second = start_embedded_postgres(tmp_path / "pgdata")
        assert second.dsn == first.dsn

        async def roundtrip() -> int:
            async with await PostgresDatabase.connect(second.dsn) as db:
                async with db.pool.acquire() as conn:
                    return int(await conn.fetchval("SELECT 41 + 1"))

        assert asyncio.run(roundtrip()) == 42
        assert (tmp_path / "pgdata" / "PG_VERSION").exists()
    finally:
        first.stop()
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


def test_another_process_attaches_to_the_running_server_and_leaves_it_running(tmp_path: Path) -> None:
    import subprocess
    import sys

    first = start_embedded_postgres(tmp_path / "pgdata")
    try:
        script = (
            "import sys; from motadata_ai.adapters.postgres.embedded import start_embedded_postgres as s; "
            "h = s(sys.argv[1]); print(h.dsn); h.stop()"
        )
        child = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "pgdata")],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert child.stdout.strip() == first.dsn

        async def still_up() -> int:
            async with await PostgresDatabase.connect(first.dsn) as db:
                async with db.pool.acquire() as conn:
                    return int(await conn.fetchval("SELECT 1"))

        assert asyncio.run(still_up()) == 1
    finally:
        first.stop()
