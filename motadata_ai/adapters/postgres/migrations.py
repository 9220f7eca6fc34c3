"""Versioned schema migrations per component, safe when several processes start at once.

A component (``"vectors:motadata_chunks"``, ``"documents"``, ``"memory"`` ...) owns an ordered list
of ``(version, name, sql)`` tuples. Each pending migration runs in its own transaction while that
transaction holds a PostgreSQL advisory lock for the component, and is recorded in
``schema_migrations(component, version, name, applied_at)`` in the same transaction: a migration is
applied exactly once, a failed one leaves nothing behind, and concurrent starters wait instead of
racing. Applying the same list again does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from motadata_ai.domain.values.errors import ConfigurationError

if TYPE_CHECKING:
    import asyncpg

__all__ = ["MIGRATIONS_TABLE", "Migration", "apply_migrations", "check_migrations"]

Migration = tuple[int, str, str]
"""``(version, name, sql)``: versions are positive integers, unique within a component."""

MIGRATIONS_TABLE = "schema_migrations"
_LOCK_NAMESPACE = "motadata_ai.migrations"
_COMPONENT = re.compile(r"[A-Za-z0-9_.:-]{1,100}")

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


def check_migrations(component: str, migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations sorted by version; refuse a bad component name, version or duplicate."""
    if not isinstance(component, str) or _COMPONENT.fullmatch(component) is None:
        raise ConfigurationError(
            f"migration component {component!r} must match [A-Za-z0-9_.:-]{{1,100}}", component=component
        )
    seen: set[int] = set()
    for migration in migrations:
        if not (isinstance(migration, tuple) and len(migration) == 3):
            raise ConfigurationError(
                f"{component}: each migration is a (version, name, sql) tuple, got {migration!r}",
                component=component,
            )
        version, name, sql = migration
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigurationError(
                f"{component}: migration version {version!r} must be a positive integer", component=component
            )
        if version in seen:
            raise ConfigurationError(
                f"{component}: migration version {version} appears twice", component=component
            )
        if not isinstance(name, str) or not name or not isinstance(sql, str) or not sql.strip():
            raise ConfigurationError(
                f"{component}: migration {version} needs a name and SQL", component=component, version=version
            )
        seen.add(version)
    return sorted(migrations, key=lambda m: m[0])


async def apply_migrations(
    conn: asyncpg.Connection, component: str, migrations: Sequence[Migration]
) -> list[int]:
    """Apply the component's pending migrations on ``conn``; return the versions applied now."""
    ordered = check_migrations(component, migrations)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1), 0)", _LOCK_NAMESPACE)
        await conn.execute(_CREATE_TABLE)
    applied: list[int] = []
    for version, name, sql in ordered:
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", _LOCK_NAMESPACE, component
            )
            done = await conn.fetchval(
                f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE component = $1 AND version = $2", component, version
            )
            if done:
                continue
            await conn.execute(sql)
            await conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (component, version, name) VALUES ($1, $2, $3)",
                component,
                version,
                name,
            )
            applied.append(version)
    return applied
