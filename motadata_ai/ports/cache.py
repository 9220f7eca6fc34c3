"""CachePort: bytes by key with TTL, prefix deletion and atomic counters."""

from __future__ import annotations

from abc import ABC, abstractmethod

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable


class CacheError(ServiceError):
    """The cache failed."""


class CacheUnavailable(CacheError, StoreUnavailable):
    """The cache server cannot be reached; ``address`` names it with credentials masked."""


class CachePort(ABC):
    """A key-value cache. Keys are built by callers with the tenant as their first segment."""

    @abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""

    @abstractmethod
    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value``; it expires after ``ttl`` seconds when given."""

    @abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove the key; ``True`` when it existed."""

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; return how many."""

    @abstractmethod
    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add ``amount`` (creating the key at 0) and return the new value.

        ``ttl`` is set when the key is created, so a counter can serve as a fixed window.
        """

    async def ping(self) -> bool:
        """``True`` when the cache answers."""
        await self.get("__ping__")
        return True

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""
