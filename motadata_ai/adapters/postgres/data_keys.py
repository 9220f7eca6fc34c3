"""PostgresDataKeyStore: each tenant's wrapped data key in ``motadata_data_keys`` (component
``encryption``); only wrapped keys are ever stored."""

from __future__ import annotations

from typing import Any

from motadata_ai.adapters.postgres.database import MigratedStore
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.encryption import (
    DataKeyStoreError,
    DataKeyStorePort,
    DataKeyStoreUnavailable,
    WrappedDataKey,
)

__all__ = ["MIGRATIONS", "PostgresDataKeyStore"]

MIGRATIONS = [
    (
        1,
        "wrapped data keys",
        """
        CREATE TABLE IF NOT EXISTS motadata_data_keys (
            tenant_id text PRIMARY KEY,
            key_id text NOT NULL,
            wrapping_key_id text NOT NULL,
            wrapped bytea NOT NULL,
            created_at timestamptz NOT NULL
        );
        """,
    ),
]

_COLUMNS = "tenant_id, key_id, wrapping_key_id, wrapped, created_at"


class PostgresDataKeyStore(MigratedStore, DataKeyStorePort):
    """Wrapped data keys on a :class:`PostgresDatabase` (its pool is shared, not owned)."""

    component = "encryption"
    migrations = MIGRATIONS
    unavailable = DataKeyStoreUnavailable
    failure = DataKeyStoreError

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        await self.setup()
        with self._db.translate_errors(DataKeyStoreUnavailable, DataKeyStoreError):
            async with self._db.pool.acquire() as conn:
                return list(await conn.fetch(query, *args))

    async def get(self, tenant_id: str) -> WrappedDataKey | None:
        """The key or ``None``."""
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM motadata_data_keys WHERE tenant_id = $1", validate_tenant_id(tenant_id)
        )
        return WrappedDataKey(**dict(rows[0])) if rows else None

    async def add(self, key: WrappedDataKey) -> WrappedDataKey:
        """Insert unless the tenant has a key; return the stored one."""
        await self._fetch(
            f"INSERT INTO motadata_data_keys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (tenant_id) DO NOTHING",
            key.tenant_id,
            key.key_id,
            key.wrapping_key_id,
            key.wrapped,
            key.created_at,
        )
        stored = await self.get(key.tenant_id)
        assert stored is not None
        return stored

    async def rewrap(self, key: WrappedDataKey) -> None:
        """Replace the wrapping of the same data key."""
        await self._fetch(
            "UPDATE motadata_data_keys SET wrapping_key_id = $3, wrapped = $4 "
            "WHERE tenant_id = $1 AND key_id = $2",
            key.tenant_id,
            key.key_id,
            key.wrapping_key_id,
            key.wrapped,
        )

    async def all(self) -> list[WrappedDataKey]:
        """By tenant."""
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM motadata_data_keys ORDER BY tenant_id")
        return [WrappedDataKey(**dict(row)) for row in rows]
