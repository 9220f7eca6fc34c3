"""kill -9 of a process between its index build and the end of the index's recall check.

A process promotes a tenant of 20,000 rows, builds its HNSW index and starts the recall check
(slowed to 1,000 probes); it is killed with SIGKILL as soon as the index is marked built.
Invariants:

* the committed index stays, and the tenant is searched through it;
* the check wrote nothing or everything: the breadth and the recall are both unset or both set;
* the next ``reorganize()`` checks the index, and every process then searches at that breadth.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.testing.servers.postgres import isolated_database
from tests.faults.recall_check_process import DIMENSIONS, store_for
from tests.random_vectors import random_vector_records

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
ACME = TenantContext.of("acme")
ROWS = 20_000


def start_checker(dsn: str, schema: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.faults.recall_check_process", dsn, schema]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_a_process_killed_during_the_recall_check_leaves_the_index_for_reorganize(
    postgres_dsn: str,
) -> None:
    async with isolated_database(postgres_dsn) as database:
        async with database.pool.acquire() as conn:
            schema = str(await conn.fetchval("SHOW search_path")).split(",")[0].strip()
        loader = store_for(database, auto_promote=False)
        await loader.setup()
        rows = random_vector_records("acme", ROWS, dims=DIMENSIONS, seed=3)
        for start in range(0, ROWS, 2_000):
            await loader.upsert(ACME, rows[start : start + 2_000])
        child = start_checker(postgres_dsn, schema)
        try:
            indexed = None
            for _ in range(3_000):  # until the build has committed (at most 60 s)
                async with database.pool.acquire() as conn:
                    indexed = await conn.fetchval("SELECT indexed FROM motadata_chunks_tenants")
                if indexed or child.poll() is not None:
                    break
                await asyncio.sleep(0.02)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(30)
        finally:
            if child.poll() is None:
                child.kill()
        assert indexed is True
        async with database.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT indexed, ef_search, index_recall FROM motadata_chunks_tenants"
            )
            index = await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%_hnsw'")
        assert (row["indexed"], index) == (True, 1)
        assert row["ef_search"] is None and row["index_recall"] is None  # killed mid-check: nothing written

        restarted = store_for(database)
        await restarted.setup()
        assert (await restarted.layout(ACME))["search"] == "hnsw"
        assert len(await restarted.dense_search(ACME, [1.0] * DIMENSIONS, top_k=10)) == 10
        await restarted.reorganize()
        checked = await restarted.layout(ACME)
        assert checked["recall"] is not None
        other = store_for(database)
        await other.setup()
        assert other.ef_search_for("acme") == checked["ef_search"]
