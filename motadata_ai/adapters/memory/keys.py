"""InMemoryKeyStore: the virtual API keys in process (lost on exit)."""

from __future__ import annotations

from datetime import UTC, datetime

from motadata_ai.domain.values.api_keys import APIKey
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.keys import KeyStoreError, KeyStorePort

__all__ = ["InMemoryKeyStore"]


class InMemoryKeyStore(KeyStorePort):
    """Keys by id; listing and revoking filter on the tenant."""

    def __init__(self) -> None:
        self._keys: dict[str, APIKey] = {}

    async def add(self, key: APIKey) -> None:
        """Store a new key; an existing id raises :class:`KeyStoreError`."""
        if key.id in self._keys:
            raise KeyStoreError(f"key {key.id} exists already", tenant_id=key.tenant_id, key_id=key.id)
        self._keys[key.id] = key

    async def get(self, key_id: str) -> APIKey | None:
        """The key, or ``None``."""
        return self._keys.get(key_id)

    async def list(self, *, tenant: TenantContext | str, include_revoked: bool = False) -> list[APIKey]:
        """The tenant's keys, oldest first."""
        tenant_id = TenantContext.of(tenant).tenant_id
        keys = [k for k in self._keys.values() if k.tenant_id == tenant_id]
        if not include_revoked:
            keys = [k for k in keys if not k.revoked]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    async def revoke(self, *, tenant: TenantContext | str, key_id: str) -> bool:
        """Mark the tenant's live key revoked."""
        tenant_id = TenantContext.of(tenant).tenant_id
        key = self._keys.get(key_id)
        if key is None or key.tenant_id != tenant_id or key.revoked:
            return False
        self._keys[key_id] = key.model_copy(update={"revoked_at": datetime.now(UTC)})
        return True

    async def add_spend(self, key_id: str, cost_usd: float) -> float:
        """Add to the key's spend (no await between read and write: atomic on the loop)."""
        key = self._keys.get(key_id)
        if key is None:
            raise KeyStoreError(f"no key {key_id}", key_id=key_id)
        total = key.spent_usd + max(0.0, cost_usd)
        self._keys[key_id] = key.model_copy(update={"spent_usd": total})
        return total
