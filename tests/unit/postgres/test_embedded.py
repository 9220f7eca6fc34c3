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
