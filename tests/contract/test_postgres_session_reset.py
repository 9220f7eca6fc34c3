"""The pool's release-time reset, on the real server: sent only after a change of the session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.search_settings import search_session_settings
from motadata_ai.adapters.postgres.session_reset import SessionConnection, session_changed
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from tests.contract.pool_statements import Statements, one_connection_pool

pytestmark = pytest.mark.postgres

A = TenantContext(tenant_id="acme")
QUERY = [1.0, 0, 0, 0, 0, 0, 0, 0]


def _records(count: int) -> list[VectorRecord]:
    return [
        VectorRecord(
            id=f"r{i}",
            tenant_id=A.tenant_id,
            document_id="doc",
            text=f"chunk number {i}",
            embedding=tuple(float(i == j % 8) + 0.01 * j for j in range(8)),
            metadata={"n": i % 3},
        )
        for i in range(count)
    ]


@pytest.fixture
async def searched(
    postgres_dsn: str, pg_isolated_database: PostgresDatabase
) -> AsyncIterator[tuple[PostgresDatabase, PgVectorStore, Statements]]:
    """A store with twelve records on a one-connection pool opened with the search defaults,
    and the log of that connection's statements (cleared after the writes)."""
    database, queries = await one_connection_pool(
        postgres_dsn, pg_isolated_database, **search_session_settings(ef_search=100)
    )
    try:
        store = PgVectorStore(database, dimensions=8)
        await store.setup()
        await store.upsert(A, _records(12))
        queries.seen.clear()
        yield database, store, queries
    finally:
        await database.close()


async def test_a_search_on_the_session_defaults_is_released_without_a_reset(
    searched: tuple[PostgresDatabase, PgVectorStore, Statements],
) -> None:
    _, store, queries = searched
    assert len(await store.dense_search(A, QUERY, top_k=3)) == 3
    assert len(await store.keyword_search(A, "chunk number 3", top_k=3)) >= 1
    assert queries.resets() == 0
    assert len(queries.seen) == 2  # the two searches, and nothing on release


async def test_a_search_that_changed_the_session_is_reset_on_release(
    searched: tuple[PostgresDatabase, PgVectorStore, Statements],
) -> None:
    database, store, queries = searched
    filtered = await store.dense_search(A, QUERY, top_k=3, filters={"n": 1})  # iterative scan: a SET
    assert {h.record.metadata["n"] for h in filtered} == {1}
    assert queries.resets() == 1
    async with database.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_setting('hnsw.iterative_scan')") == "off"
        assert not conn.session_changed  # the reset cleared the mark with the settings
    assert queries.resets() == 1  # that plain read was released without another


async def test_a_marked_connection_is_reset_even_when_its_statement_failed(
    postgres_dsn: str, pg_isolated_database: PostgresDatabase
) -> None:
    database, queries = await one_connection_pool(postgres_dsn, pg_isolated_database)
    try:
        with pytest.raises(asyncpg.PostgresError):
            async with database.pool.acquire() as conn:
                session_changed(conn)
                await conn.execute("SET hnsw.ef_search = '7'")
                await conn.execute("SELECT 1/0")
        async with database.pool.acquire() as conn:
            assert await conn.fetchval("SHOW hnsw.ef_search") != "7"
        assert queries.resets() == 1
    finally:
        await database.close()


async def test_the_sdk_pool_uses_session_connections_and_an_application_pool_keeps_asyncpgs(
    postgres_dsn: str, pg_isolated_database: PostgresDatabase
) -> None:
    async with pg_isolated_database.pool.acquire() as conn:
        assert isinstance(conn._con, SessionConnection)  # the proxy's connection
    pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            session_changed(conn)  # nothing to mark: asyncpg resets these on every release
            await conn.execute("SET work_mem = '7MB'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW work_mem") != "7MB"
    finally:
        await pool.close()
