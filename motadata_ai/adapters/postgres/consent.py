"""PostgresConsentStore: consent decisions in ``motadata_consents`` (component ``consent``),
one row per ``(tenant_id, user_id, purpose)``; every statement filters on the tenant."""

from __future__ import annotations

from typing import Any

from motadata_ai.adapters.postgres.database import MigratedStore
from motadata_ai.domain.values.consent import ConsentRecord, validate_purpose
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.consent import ConsentStoreError, ConsentStorePort, ConsentStoreUnavailable

__all__ = ["MIGRATIONS", "PostgresConsentStore"]

MIGRATIONS = [
    (
        1,
        "consent decisions",
        """
        CREATE TABLE IF NOT EXISTS motadata_consents (
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            purpose text NOT NULL,
            granted boolean NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, user_id, purpose)
        );
        """,
    ),
]

_COLUMNS = "tenant_id, user_id, purpose, granted, updated_at"


class PostgresConsentStore(MigratedStore, ConsentStorePort):
    """Consent decisions on a :class:`PostgresDatabase` (its pool is shared, not owned)."""

    component = "consent"
    migrations = MIGRATIONS
    unavailable = ConsentStoreUnavailable
    failure = ConsentStoreError

    async def _fetch(self, tenant_id: str, query: str, *args: Any) -> list[Any]:
        await self.setup()
        with self._db.translate_errors(ConsentStoreUnavailable, ConsentStoreError, tenant_id=tenant_id):
            async with self._db.pool.acquire() as conn:
                return list(await conn.fetch(query, *args))

    async def set(self, record: ConsentRecord) -> None:
        """Upsert the decision."""
        await self._fetch(
            record.tenant_id,
            f"INSERT INTO motadata_consents ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (tenant_id, user_id, purpose) DO UPDATE "
            "SET granted = EXCLUDED.granted, updated_at = EXCLUDED.updated_at",
            record.tenant_id,
            record.user_id,
            record.purpose,
            record.granted,
            record.updated_at,
        )

    async def get(self, *, tenant_id: str, user_id: str, purpose: str) -> ConsentRecord | None:
        """The decision or ``None``."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(
            tenant,
            f"SELECT {_COLUMNS} FROM motadata_consents "
            "WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3",
            tenant,
            user_id,
            validate_purpose(purpose),
        )
        return ConsentRecord(**dict(rows[0])) if rows else None

    async def user_consents(self, *, tenant_id: str, user_id: str) -> list[ConsentRecord]:
        """By purpose."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(
            tenant,
            f"SELECT {_COLUMNS} FROM motadata_consents "
            "WHERE tenant_id = $1 AND user_id = $2 ORDER BY purpose",
            tenant,
            user_id,
        )
        return [ConsentRecord(**dict(row)) for row in rows]

    async def delete_user(self, *, tenant_id: str, user_id: str) -> int:
        """Delete the user's rows."""
        tenant = validate_tenant_id(tenant_id)
        rows = await self._fetch(
            tenant,
            "WITH gone AS (DELETE FROM motadata_consents WHERE tenant_id = $1 AND user_id = $2 RETURNING 1) "
            "SELECT count(*) AS n FROM gone",
            tenant,
            user_id,
        )
        return int(rows[0]["n"])
