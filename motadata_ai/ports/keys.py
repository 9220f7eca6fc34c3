"""KeyStorePort: the virtual API keys of the HTTP gateway (stored hashed), and its errors.

Listing and revoking take the tenant: one tenant never lists, reads or revokes another tenant's
keys. ``get`` takes only the key id, because authenticating a request is how its tenant is
learned; the caller then checks the secret with
:func:`~motadata_ai.domain.values.api_keys.secret_matches`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from motadata_ai.domain.values.api_keys import APIKey
from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable
from motadata_ai.domain.values.tenancy import TenantContext

__all__ = ["KeyStoreError", "KeyStorePort", "KeyStoreUnavailable"]


class KeyStoreError(ServiceError):
    """The key store failed."""


class KeyStoreUnavailable(KeyStoreError, StoreUnavailable):
    """The key store cannot be reached; ``address`` names it with credentials masked."""


class KeyStorePort(ABC):
    """Create, find, list and revoke virtual keys, and add to a key's spend."""

    @abstractmethod
    async def add(self, key: APIKey) -> None:
        """Store a new key (an id that exists already raises :class:`KeyStoreError`)."""

    @abstractmethod
    async def get(self, key_id: str) -> APIKey | None:
        """The key with ``key_id`` (revoked ones too), or ``None``."""

    @abstractmethod
    async def list(self, *, tenant: TenantContext | str, include_revoked: bool = False) -> list[APIKey]:
        """The tenant's keys, oldest first."""

    @abstractmethod
    async def revoke(self, *, tenant: TenantContext | str, key_id: str) -> bool:
        """Revoke the tenant's key ``key_id``; ``False`` when the tenant has no such live key."""

    @abstractmethod
    async def add_spend(self, key_id: str, cost_usd: float) -> float:
        """Add ``cost_usd`` to the key's spend atomically and return the new total."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources (a shared pool is not closed)."""
