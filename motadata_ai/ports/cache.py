"""CachePort: bytes by key with TTL, per-tenant deletion and atomic counters.

Keys follow the one scheme of :mod:`motadata_ai.domain.values.keys`
(``{<tenant>}:<namespace>:<segment>...``, built with ``tenant_key``); a key outside it is a
:class:`~motadata_ai.domain.values.errors.ValidationError`. A tenant's entries are erased with
:meth:`CachePort.delete_tenant`, never with a prefix the caller builds.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping

from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable, ValidationError
from motadata_ai.ports.health import HealthProbe

MAX_KEY_LENGTH = 1024
"""Longest cache key accepted (characters)."""


_PING_KEY = keys.shared_key("ping", "ping")


class CacheError(ServiceError):
    """The cache failed."""


class CacheUnavailable(CacheError, StoreUnavailable):
    """The cache server cannot be reached; ``address`` names it with credentials masked."""


def check_key(key: object, *, field: str = "key") -> str:
    """Return ``key`` when it is a key of the scheme (:func:`~motadata_ai.domain.values.keys.check_key`)
    of at most :data:`MAX_KEY_LENGTH` characters, else raise
    :class:`~motadata_ai.domain.values.errors.ValidationError`."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"cache {field} must be a non-empty string of at most {MAX_KEY_LENGTH} characters, "
            f"got {key!r:.80}",
            field=field,
        )
    return keys.check_key(key, field=field)


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


class CachePort(HealthProbe):
    """A key-value cache over the SDK's key scheme (tenant first: ``keys.tenant_key(...)``)."""

    @property
    def remote(self) -> bool:
        """``True`` when the cache lives outside this process (a server that can be down or
        slow), so callers put it behind a circuit; an in-process cache answers ``False``."""
        return True

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
    async def delete_tenant(self, tenant_id: str, *, namespace: str | None = None) -> int:
        """Remove every entry of ``tenant_id`` (only those of ``namespace`` when given, e.g.
        ``keys.GATEWAY``); return how many. Never touches another tenant's keys."""

    @abstractmethod
    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add ``amount`` (creating the key at 0) and return the new value.

        ``ttl`` is set when the key is created, so a counter can serve as a fixed window. A value
        that is not a decimal integer raises :class:`CacheError`. ``get`` returns the counter as its
        decimal ASCII bytes (``b"3"``).
        """

    # -- per-user indexes ---------------------------------------------------------------------
    # An index is a set of keys stored under a key of its own (built with ``keys.tenant_key``):
    # the gateway lists under ``{tenant}:gw:users:<user>`` each entry derived from that user's
    # requests, so erasing a user deletes exactly those entries without scanning any tenant.
    # The defaults keep the set as a JSON list read and written back (enough for one process);
    # adapters shared between processes override both with atomic set operations.

    async def index_add(self, index: str, key: str, *, ttl: float | None = None) -> None:
        """Add ``key`` to the set stored at ``index``; ``ttl`` (re)sets the index's lifetime."""
        check_key(key)
        data = await self.get(index)
        members = set(json.loads(data)) if data else set()
        members.add(key)
        await self.set(index, json.dumps(sorted(members)).encode(), ttl=check_ttl(ttl))

    async def index_members(self, index: str) -> list[str]:
        """The keys in the set at ``index``, sorted (empty when there is none)."""
        data = await self.get(index)
        return sorted(json.loads(data)) if data else []

    async def delete_indexed(self, index: str) -> int:
        """Delete every key listed at ``index`` and take them off it (a key added meanwhile
        stays listed); return how many of the listed keys still existed."""
        members = await self.index_members(index)
        deleted = 0
        for member in members:
            deleted += await self.delete(member)
        data = await self.get(index)
        remaining = (set(json.loads(data)) if data else set()) - set(members)
        if remaining:
            await self.set(index, json.dumps(sorted(remaining)).encode())
        else:
            await self.delete(index)
        return deleted

    # -- ranked indexes (optional: advertised by ``supports_ranking``) -------------------------
    # A ranked index is a bounded set of keys with scores (the gateway counts there how often each
    # of a tenant's cacheable requests was asked, for cache warming). The defaults keep a JSON
    # object read and written back (enough for one process); an adapter that advertises the
    # capability uses them or overrides both atomically. Callers check ``supports_ranking`` first.

    @property
    def supports_ranking(self) -> bool:
        """Whether this cache keeps ranked indexes (:meth:`rank_add`, :meth:`rank_top`)."""
        return False

    async def rank_add(
        self, index: str, increments: Mapping[str, float], *, max_members: int, ttl: float | None = None
    ) -> None:
        """Add each increment to its key's score in the ranked index at ``index`` (a new key starts
        at 0), keep only the ``max_members`` best-scored keys, and (re)set the index's lifetime to
        ``ttl``."""
        for key in increments:
            check_key(key)
        data = await self.get(index)
        scores: dict[str, float] = dict(json.loads(data)) if data else {}
        for key, amount in increments.items():
            scores[key] = scores.get(key, 0.0) + float(amount)
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: max(0, max_members)]
        await self.set(index, json.dumps(dict(best)).encode(), ttl=check_ttl(ttl))

    async def rank_top(self, index: str, count: int) -> list[tuple[str, float]]:
        """The ``count`` best-scored keys of the ranked index with their scores, best first."""
        data = await self.get(index)
        scores: dict[str, float] = dict(json.loads(data)) if data else {}
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: max(0, count)]

    async def ping(self) -> bool:
        """``True`` when the cache answers."""
        await self.get(_PING_KEY)
        return True

    async def aclose(self) -> None:
        """Release connections."""
