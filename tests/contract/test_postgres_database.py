"""PostgresDatabase on the real server: migrations, codecs and error translation."""

from __future__ import annotations

import asyncio

import pytest

from motadata_ai.adapters.postgres.database import PostgresDatabase, PostgresError, PostgresUnavailable
from motadata_ai.domain.values.errors import ConfigurationError, StoreUnavailable
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = pytest.mark.postgres

MIGRATIONS = [
    (1, "create items", "CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))"),
    (2, "add label", "ALTER TABLE items ADD COLUMN label text"),
]


async def test_migrations_apply_once_and_are_recorded(pg_isolated_database: PostgresDatabase) -> None:
    assert await pg_isolated_database.apply_migrations("items", MIGRATIONS) == [1, 2]
    assert await pg_isolated_database.apply_migrations("items", MIGRATIONS) == []
    extended = [*MIGRATIONS, (3, "add note", "ALTER TABLE items ADD COLUMN note text")]
    assert await pg_isolated_database.apply_migrations("items", extended) == [3]
    async with pg_isolated_database.pool.acquire() as conn:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations WHERE component = 'items'")
        await conn.execute("INSERT INTO items (id, embedding, label) VALUES (1, $1, 'a')", [1.0, 2.0, 3.0])
        stored = await conn.fetchval("SELECT embedding FROM items WHERE id = 1")
    recorded = sorted((r["version"], r["name"]) for r in rows)
    assert recorded == [(1, "create items"), (2, "add label"), (3, "add note")]
    assert stored.to_list() == [1.0, 2.0, 3.0]


async def test_components_are_versioned_separately(pg_isolated_database: PostgresDatabase) -> None:
    await pg_isolated_database.apply_migrations("items", MIGRATIONS)
    other = [(1, "create other", "CREATE TABLE other (id int)")]
    assert await pg_isolated_database.apply_migrations("other", other) == [1]


async def test_concurrent_starters_apply_each_migration_once(postgres_dsn: str) -> None:
    async with isolated_database(postgres_dsn, max_size=6) as database:
        results = await asyncio.gather(*(database.apply_migrations("items", MIGRATIONS) for _ in range(5)))
        assert sorted(v for r in results for v in r) == [1, 2]


async def test_failed_migration_leaves_nothing_and_raises(pg_isolated_database: PostgresDatabase) -> None:
    broken = [(1, "create then fail", "CREATE TABLE half (id int); SELECT * FROM no_such_table")]
    with pytest.raises(PostgresError) as caught:
        await pg_isolated_database.apply_migrations("broken", broken)
    assert caught.value.sqlstate == "42P01"
    async with pg_isolated_database.pool.acquire() as conn:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE component = 'broken'") == 0


@pytest.mark.parametrize(
    ("component", "migrations"),
    [
        ("bad name!", MIGRATIONS),
        ("dup", [(1, "a", "SELECT 1"), (1, "b", "SELECT 1")]),
        ("zero", [(0, "a", "SELECT 1")]),
        ("empty", [(1, "a", "  ")]),
    ],
)
async def test_malformed_migrations_are_refused(
    pg_isolated_database: PostgresDatabase, component: str, migrations: list[tuple[int, str, str]]
) -> None:
    with pytest.raises(ConfigurationError):
        await pg_isolated_database.apply_migrations(component, migrations)


async def test_unreachable_server_names_masked_address() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        await PostgresDatabase.connect("postgresql://app:s3cret@127.0.0.1:1/db", connect_timeout=2)
    assert isinstance(caught.value, PostgresUnavailable)
    assert caught.value.address == "postgresql://app:***@127.0.0.1:1/db"
    assert "s3cret" not in str(caught.value)


async def test_lazy_pool_fails_on_first_use_with_translated_error() -> None:
    database = await PostgresDatabase.connect("postgresql://app:s3cret@127.0.0.1:1/db", lazy=True)
    try:
        with pytest.raises(PostgresUnavailable) as caught:
            await database.apply_migrations("items", MIGRATIONS)
        assert "s3cret" not in str(caught.value)
    finally:
        await database.close()


async def test_wrong_database_name_is_unavailable(postgres_dsn: str) -> None:
    dsn = postgres_dsn.replace("/postgres?", "/no_such_db?") if "?" in postgres_dsn else postgres_dsn + "x"
    with pytest.raises(PostgresUnavailable):
        await PostgresDatabase.connect(dsn)
