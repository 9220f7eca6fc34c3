"""Start-up opens the pooled connections a request uses at once, so the first request after
``connect()`` pays no connection start (each with its pgvector type introspection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.postgres.database import HotStatement
from motadata_ai.api import WARM_CONNECTIONS, WARM_UP_TENANT, connect
from motadata_ai.container import Container
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = pytest.mark.postgres

KB = Path(__file__).resolve().parents[2] / "examples" / "knowledge_base"


async def test_open_connections_fills_the_pool_up_to_its_maximum(postgres_dsn: str) -> None:
    async with isolated_database(postgres_dsn, max_size=4) as database:
        assert database.pool.get_size() == 1
        assert await database.open_connections(3) == 3
        assert database.pool.get_idle_size() == 3  # all released again
        assert await database.open_connections(10) == 4  # never beyond the maximum
        vectors = await database.pool.fetchval("SELECT '[1,2,3]'::vector")
        assert vectors.to_list() == [1.0, 2.0, 3.0]  # the opened connections carry the codecs


async def test_connect_opens_a_requests_connections_before_it_returns(
    tmp_path: Any, postgres_dsn: str
) -> None:
    settings = Settings(profile="services", data_dir=tmp_path, postgres_dsn=postgres_dsn)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "answer [1]")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    async with isolated_database(postgres_dsn, max_size=10) as database:
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=["embeddings"]) as ai:
            assert ai.ready
            assert database.pool.get_size() >= WARM_CONNECTIONS


async def _prepared_statements(database: Any) -> list[set[str]]:
    """The statements prepared on each idle pooled connection (held at once, so each is distinct)."""
    pool = database.pool
    held = [await pool.acquire() for _ in range(pool.get_idle_size())]
    try:
        query = "SELECT statement FROM pg_prepared_statements"
        return [{r["statement"] for r in await c.fetch(query)} for c in held]
    finally:
        for conn in held:
            await pool.release(conn)


async def test_prepare_statements_caches_them_on_every_connection_without_running_them(
    postgres_dsn: str,
) -> None:
    async with isolated_database(postgres_dsn, max_size=4) as database:
        await database.pool.execute("CREATE TABLE warm_target (x int)")
        await database.open_connections(3)
        statements = [
            HotStatement("INSERT INTO warm_target (x) VALUES ($1)"),
            HotStatement("SELECT x FROM warm_target WHERE x = $1", probe=(7,)),
        ]
        assert await database.prepare_statements(statements) == 3
        for prepared in await _prepared_statements(database):
            assert {s.sql for s in statements} <= prepared
        assert await database.pool.fetchval("SELECT count(*) FROM warm_target") == 0


def _container(tmp_path: Any, postgres_dsn: str, database: Any) -> Container:
    settings = Settings(profile="services", data_dir=tmp_path, postgres_dsn=postgres_dsn)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "Reset it in the portal [1].")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.database.override(providers.Object(database))
    return container


async def test_connect_prepares_a_requests_statements_and_instruments(
    tmp_path: Any, postgres_dsn: str
) -> None:
    async with isolated_database(postgres_dsn, max_size=10) as database:
        async with connect(container=_container(tmp_path, postgres_dsn, database), warm_up=False) as ai:
            report = await ai.rag("warm-tenant").ingest(str(KB))
            assert report.ok
        usage_rows = await database.pool.fetchval("SELECT count(*) FROM motadata_usage")
        audit_rows = await database.pool.fetchval("SELECT count(*) FROM motadata_audit_log")
        serving = _container(tmp_path, postgres_dsn, database)
        async with connect(container=serving, warm_up=["embeddings"]) as ai:
            hot = [
                s.sql
                for port in ("vector_store", "usage_ledger", "audit_log")
                for s in ai.port(port).hot_statements(WARM_UP_TENANT)
            ]
            assert len(hot) == 4
            per_connection = await _prepared_statements(database)
            assert len(per_connection) >= WARM_CONNECTIONS
            for prepared in per_connection:
                assert set(hot) <= prepared
            # prepared, never run: no row was read into or written by the warm-up
            assert await database.pool.fetchval("SELECT count(*) FROM motadata_usage") == usage_rows
            assert await database.pool.fetchval("SELECT count(*) FROM motadata_audit_log") == audit_rows
            telemetry = ai.port("telemetry")
            created = telemetry.instrument_names
            response = await ai.query("How do I reset my password?", tenant_id="warm-tenant", mode="rag")
            assert response.answer
            assert telemetry.instrument_names == created  # the query created no instrument
            assert await database.pool.fetchval("SELECT count(*) FROM motadata_usage") > usage_rows
