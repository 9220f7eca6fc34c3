"""InMemoryDataKeyStore: wrapped data keys in a dict (lost on exit, with the data they open)."""

from __future__ import annotations

from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.ports.encryption import DataKeyStorePort, WrappedDataKey

__all__ = ["InMemoryDataKeyStore"]


class InMemoryDataKeyStore(DataKeyStorePort):
    """One wrapped key per tenant."""

    def __init__(self) -> None:
        self._keys: dict[str, WrappedDataKey] = {}

    async def get(self, tenant_id: str) -> WrappedDataKey | None:
        """The key or ``None``."""
        return self._keys.get(validate_tenant_id(tenant_id))

    async def add(self, key: WrappedDataKey) -> WrappedDataKey:
        """First writer wins."""
        return self._keys.setdefault(key.tenant_id, key)

    async def rewrap(self, key: WrappedDataKey) -> None:
        """Replace the wrapping."""
        self._keys[key.tenant_id] = key

    async def all(self) -> list[WrappedDataKey]:
        """By tenant."""
        return [self._keys[t] for t in sorted(self._keys)]
