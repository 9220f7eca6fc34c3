"""CachePort: bytes by key with TTL, prefix deletion and atomic counters."""

from __future__ import annotations

from abc import ABC, abstractmethod

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable, ValidationError

MAX_KEY_LENGTH = 1024
"""Longest cache key accepted (characters)."""


class CacheError(ServiceError):
    """The cache failed."""


class CacheUnavailable(CacheError, StoreUnavailable):
    """The cache server cannot be reached; ``address`` names it with credentials masked."""


def check_key(key: object, *, field: str = "key") -> str:
    """Return ``key`` when it is a non-empty string of at most :data:`MAX_KEY_LENGTH` characters,
    else raise :class:`~motadata_ai.domain.values.errors.ValidationError`."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"cache {field} must be a non-empty string of at most {MAX_KEY_LENGTH} characters, "
            f"got {key!r:.80}",
            field=field,
        )
    return key


def check_ttl(ttl: object) -> float | None:
    """Return ``ttl`` when it is ``None`` or a positive number of seconds, else raise
    :class:`~motadata_ai.domain.values.errors.ValidationError`."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise ValidationError(f"ttl must be a positive number of seconds or None, got {ttl!r}", field="ttl")
    return float(ttl)


def check_value(value: object) -> bytes:
    """Return ``value`` when it is ``bytes``, else raise
    :class:`~motadata_ai.domain.values.errors.ValidationError`."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValidationError(f"cache values are bytes, got {type(value).__name__}", field="value")
    return bytes(value)


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
        """Remove every key starting with ``prefix`` (non-empty); return how many."""

    @abstractmethod
    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add ``amount`` (creating the key at 0) and return the new value.

        ``ttl`` is set when the key is created, so a counter can serve as a fixed window. A value
        that is not a decimal integer raises :class:`CacheError`. ``get`` returns the counter as its
        decimal ASCII bytes (``b"3"``).
        """

    async def ping(self) -> bool:
        """``True`` when the cache answers."""
        await self.get("__ping__")
        return True

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""
