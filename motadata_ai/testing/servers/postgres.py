"""pytest fixtures: a real PostgreSQL + pgvector server for tests.

- ``postgres_dsn`` (session): ``MOTADATA_TEST_POSTGRES_DSN`` when set, else an embedded
  PostgreSQL 18 + pgvector started in a temporary directory (output to its log file) and stopped
  at the end of the session. A server that cannot start fails the run; nothing is skipped.
- ``pg_database`` (session): a :class:`PostgresDatabase` connected to it.
- ``pg_isolated_database`` (function): a :class:`PostgresDatabase` whose ``search_path`` is a fresh
  schema of its own (dropped afterwards), so each test starts from empty tables and migrations.
- :func:`isolated_database` is the same as an async context manager, for use outside fixtures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.embedded import start_embedded_postgres

__all__ = ["isolated_database", "pg_database", "pg_isolated_database", "postgres_dsn"]

DSN_ENV = "MOTADATA_TEST_POSTGRES_DSN"


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a real PostgreSQL + pgvector server for the whole test session."""
    configured = os.environ.get(DSN_ENV)
    if configured:
        yield configured
        return
    workdir = tempfile.mkdtemp(prefix="motadata-test-pg-")
    server = start_embedded_postgres(os.path.join(workdir, "pgdata"))
    try:
        yield server.dsn
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pg_database(postgres_dsn: str) -> AsyncIterator[PostgresDatabase]:
    """A session-wide pool on the test server (pgvector codecs registered)."""
    database = await PostgresDatabase.connect(postgres_dsn, min_size=1, max_size=8)
    try:
        yield database
    finally:
        await database.close()


@asynccontextmanager
async def isolated_database(dsn: str, *, max_size: int = 4) -> AsyncIterator[PostgresDatabase]:
    """A pool confined to a new empty schema (``search_path = <schema>, public``), dropped on exit."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await PostgresDatabase.connect(dsn, min_size=1, max_size=1)
    try:
        async with admin.pool.acquire() as conn:
            await conn.execute(f"CREATE SCHEMA {schema}")
        database = await PostgresDatabase.connect(
            dsn, min_size=1, max_size=max_size, server_settings={"search_path": f"{schema},public"}
        )
        try:
            yield database
        finally:
            await database.close()
            async with admin.pool.acquire() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await admin.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pg_isolated_database(postgres_dsn: str) -> AsyncIterator[PostgresDatabase]:
    """A pool on a schema of this test's own: empty at the start, dropped at the end."""
    async with isolated_database(postgres_dsn) as database:
        yield database
