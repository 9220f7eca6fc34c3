"""PostgresKeyStore: the virtual API keys in PostgreSQL (component ``api_keys``).

One table ``motadata_api_keys`` keyed by the key id, with the SHA-256 of the secret (never the
secret), the tenant, the key's policy and its spend; ``add_spend`` is one ``UPDATE ... RETURNING``,
so concurrent calls never lose an addition. Listing and revoking filter on ``tenant_id``.
"""

from __future__ import annotations

from typing import Any

from motadata_ai.adapters.postgres.database import MigratedStore
from motadata_ai.domain.values.api_keys import APIKey
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.keys import KeyStoreError, KeyStorePort, KeyStoreUnavailable

__all__ = ["MIGRATIONS", "PostgresKeyStore"]

MIGRATIONS = [
    (
        1,
        "virtual API keys",
        """
        CREATE TABLE IF NOT EXISTS motadata_api_keys (
            id text PRIMARY KEY,
            tenant_id text NOT NULL,
            user_id text,
            name text NOT NULL DEFAULT '',
            allowed_models text[],
            requests_per_minute integer,
            budget_usd double precision,
            spent_usd double precision NOT NULL DEFAULT 0,
            secret_hash text NOT NULL,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        );
        CREATE INDEX IF NOT EXISTS motadata_api_keys_tenant ON motadata_api_keys (tenant_id, created_at);
        """,
    ),
]

_COLUMNS = (
    "id, tenant_id, user_id, name, allowed_models, requests_per_minute, budget_usd, spent_usd, "
    "secret_hash, created_at, revoked_at"
)


def _key(row: Any) -> APIKey:
    values = dict(row)
    if values["allowed_models"] is not None:
        values["allowed_models"] = tuple(values["allowed_models"])
    return APIKey(**values)


class PostgresKeyStore(MigratedStore, KeyStorePort):
    """The key store on a :class:`PostgresDatabase` (its pool is shared, not owned)."""

    component = "api_keys"
    migrations = MIGRATIONS
    unavailable = KeyStoreUnavailable
    failure = KeyStoreError

    async def _run(self, method: str, query: str, *args: Any, tenant_id: str | None = None) -> Any:
        await self.setup()
        with self._db.translate_errors(KeyStoreUnavailable, KeyStoreError, tenant_id=tenant_id):
            async with self._db.pool.acquire() as conn:
                return await getattr(conn, method)(query, *args)

    async def add(self, key: APIKey) -> None:
        """Insert the key; an existing id raises :class:`KeyStoreError`."""
        status = await self._run(
            "execute",
            f"INSERT INTO motadata_api_keys ({_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
            key.id,
            key.tenant_id,
            key.user_id,
            key.name,
            list(key.allowed_models) if key.allowed_models is not None else None,
            key.requests_per_minute,
            key.budget_usd,
            key.spent_usd,
            key.secret_hash,
            key.created_at,
            key.revoked_at,
            tenant_id=key.tenant_id,
        )
        if status.endswith(" 0"):
            raise KeyStoreError(f"key {key.id} exists already", tenant_id=key.tenant_id, key_id=key.id)

    async def get(self, key_id: str) -> APIKey | None:
        """The key, or ``None``."""
        row = await self._run("fetchrow", f"SELECT {_COLUMNS} FROM motadata_api_keys WHERE id = $1", key_id)
        return _key(row) if row is not None else None

    async def list(self, *, tenant: TenantContext | str, include_revoked: bool = False) -> list[APIKey]:
        """The tenant's keys, oldest first."""
        tenant_id = TenantContext.of(tenant).tenant_id
        live = "" if include_revoked else " AND revoked_at IS NULL"
        rows = await self._run(
            "fetch",
            f"SELECT {_COLUMNS} FROM motadata_api_keys WHERE tenant_id = $1{live} ORDER BY created_at, id",
            tenant_id,
            tenant_id=tenant_id,
        )
        return [_key(row) for row in rows]

    async def revoke(self, *, tenant: TenantContext | str, key_id: str) -> bool:
        """Revoke the tenant's live key in one statement."""
        tenant_id = TenantContext.of(tenant).tenant_id
        status = await self._run(
            "execute",
            "UPDATE motadata_api_keys SET revoked_at = now() "
            "WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
            key_id,
            tenant_id,
            tenant_id=tenant_id,
        )
        return not status.endswith(" 0")

    async def add_spend(self, key_id: str, cost_usd: float) -> float:
        """Add to the key's spend in one statement and return the total."""
        total = await self._run(
            "fetchval",
            "UPDATE motadata_api_keys SET spent_usd = spent_usd + $2 WHERE id = $1 RETURNING spent_usd",
            key_id,
            max(0.0, cost_usd),
        )
        if total is None:
            raise KeyStoreError(f"no key {key_id}", key_id=key_id)
        return float(total)
