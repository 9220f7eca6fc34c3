"""A one-connection pool whose statements a test can read (asyncpg's query logger)."""

from __future__ import annotations

from typing import Any

from motadata_ai.adapters.postgres.database import PostgresDatabase

__all__ = ["Statements", "one_connection_pool"]


class Statements:
    """The statements the one connection of a pool runs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, record: Any) -> None:
        self.seen.append(record.query)

    def sets(self) -> list[str]:
        """The ``SET`` statements among them."""
        return [q for q in self.seen if q.lstrip().upper().startswith("SET ")]

    def resets(self) -> int:
        """How many of them were asyncpg's release-time reset."""
        return sum("RESET ALL" in q for q in self.seen)


async def one_connection_pool(
    postgres_dsn: str, schema_pool: PostgresDatabase, **settings: str
) -> tuple[PostgresDatabase, Statements]:
    """A pool of one connection on ``schema_pool``'s search path, with ``settings`` as its session
    defaults, and the log of what that connection runs."""
    async with schema_pool.pool.acquire() as conn:
        search_path = await conn.fetchval("SHOW search_path")
    database = await PostgresDatabase.connect(
        postgres_dsn, min_size=1, max_size=1, server_settings={"search_path": search_path, **settings}
    )
    statements = Statements()
    async with database.pool.acquire() as conn:
        conn.add_query_logger(statements)
    return database, statements
