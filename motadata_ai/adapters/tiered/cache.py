"""TieredCache: an in-process L1 (LRU, short TTL) in front of a shared L2 (Redis), one CachePort.

Reads try L1, then L2 (an L2 hit is copied into L1 for at most ``l1_ttl`` seconds); writes go to
L2 and L1. Every change (``set``, ``delete``, ``incr``, ``delete_tenant``, ``delete_matching``)
is broadcast on an :class:`~motadata_ai.adapters.tiered.invalidation.InvalidationChannel`, so
every other instance drops its L1 copy: an instance serves a stale L1 entry at most until the
broadcast arrives (milliseconds on loopback), and never longer than ``l1_ttl``. Counters
(``incr``) are never kept in L1: they must be shared. ``stats`` reports hits per tier.

The gateway's response cache, the embedding cache and the ML prediction cache all sit on the
container's one cache, so all three get the tiers. Other Redis-backed state (rate limits,
breakers) reaches the server through :attr:`TieredCache.l2`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from motadata_ai.adapters.defaults import CACHE_L1_TTL
from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.tiered.invalidation import Invalidation, InvalidationChannel
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.ports.cache import CachePort, check_key, check_ttl

__all__ = ["TierStats", "TieredCache"]

logger = logging.getLogger("motadata_ai.cache.tiered")


@dataclass
class TierStats:
    """Lookups per tier: ``l1_hits``, ``l2_hits`` (L1 misses that L2 answered), ``misses``."""

    l1_hits: int = 0
    l2_hits: int = 0
    misses: int = 0
    invalidations_received: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lookups(self) -> int:
        """Every ``get``."""
        return self.l1_hits + self.l2_hits + self.misses

    def rates(self) -> dict[str, float]:
        """Hit rate of L1 (of all lookups), of L2 (of the lookups L1 missed) and overall."""
        l1_misses = self.l2_hits + self.misses
        return {
            "l1_hit_rate": self.l1_hits / self.lookups if self.lookups else 0.0,
            "l2_hit_rate": self.l2_hits / l1_misses if l1_misses else 0.0,
            "hit_rate": (self.l1_hits + self.l2_hits) / self.lookups if self.lookups else 0.0,
        }


class TieredCache(CachePort):
    """L1 ``InMemoryCache`` in front of ``l2``; changes broadcast on ``channel`` to other instances.

    ``l1_ttl`` (seconds) bounds how long an entry lives in L1; ``l1`` bounds entries and bytes.
    Call :meth:`start` (or use the first operation) to subscribe to invalidations, and
    :meth:`aclose` to stop (it closes L2 too).
    """

    def __init__(
        self,
        l2: CachePort,
        *,
        l1: InMemoryCache | None = None,
        l1_ttl: float = CACHE_L1_TTL,
        channel: InvalidationChannel | None = None,
    ) -> None:
        seconds = check_ttl(l1_ttl)
        if seconds is None:
            raise ValidationError("l1_ttl is required", field="l1_ttl")
        self._l1 = l1 if l1 is not None else InMemoryCache()
        self._l2 = l2
        self._l1_ttl = seconds
        self._channel = channel
        self._started = False
        self._start_lock = asyncio.Lock()
        self.stats = TierStats()
        """Hits per tier since start."""

    @property
    def remote(self) -> bool:
        """Whether the shared tier lives outside this process (it does for a ``RedisCache``)."""
        return self._l2.remote

    @property
    def l1(self) -> InMemoryCache:
        """The in-process tier."""
        return self._l1

    @property
    def l2(self) -> CachePort:
        """The shared tier (e.g. a ``RedisCache``: its ``client`` serves the limits too)."""
        return self._l2

    async def start(self) -> None:
        """Subscribe to the other instances' invalidations (idempotent)."""
        if self._started or self._channel is None:
            return
        async with self._start_lock:
            if not self._started:
                await self._channel.subscribe(self._apply)
                self._started = True

    async def _apply(self, message: Invalidation) -> None:
        self.stats.invalidations_received += 1
        for key in message.keys:
            await self._l1.delete(key)
        if message.tenant_id is not None:
            if message.pattern is not None and message.namespace is not None:
                await self._l1.delete_matching(
                    message.tenant_id, message.pattern, namespace=message.namespace
                )
            elif message.pattern is None:
                await self._l1.delete_tenant(message.tenant_id, namespace=message.namespace)

    async def _broadcast(self, message: Invalidation) -> None:
        if self._channel is None:
            return
        await self.start()
        try:
            await self._channel.publish(message)
        except Exception as exc:  # the L1 TTL still bounds staleness elsewhere
            logger.warning("cache invalidation broadcast failed: %s", exc)

    async def get(self, key: str) -> bytes | None:
        """L1, else L2 (copied into L1), else ``None``."""
        check_key(key)
        if not self._started:
            await self.start()
        value = await self._l1.get(key)
        if value is not None:
            self.stats.l1_hits += 1
            return value
        value = await self._l2.get(key)
        if value is None:
            self.stats.misses += 1
            return None
        self.stats.l2_hits += 1
        await self._keep(key, value)
        return value

    async def _keep(self, key: str, value: bytes) -> None:
        try:
            await self._l1.set(key, value, ttl=self._l1_ttl)
        except ValidationError:  # larger than the whole L1: served from L2 only
            return

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store in L2 and L1 (for at most ``l1_ttl``); other instances drop their L1 copy."""
        seconds = check_ttl(ttl)
        await self._l2.set(key, value, ttl=seconds)
        await self._l1.delete(key)
        await self._keep_for(key, value, seconds)
        await self._broadcast(Invalidation(keys=(key,)))

    async def _keep_for(self, key: str, value: bytes, seconds: float | None) -> None:
        try:
            await self._l1.set(key, value, ttl=min(self._l1_ttl, seconds or self._l1_ttl))
        except ValidationError:
            return

    async def delete(self, key: str) -> bool:
        """Remove from both tiers, everywhere; ``True`` when L2 held it."""
        existed = await self._l2.delete(key)
        await self._l1.delete(key)
        await self._broadcast(Invalidation(keys=(key,)))
        return existed

    async def delete_tenant(self, tenant_id: str, *, namespace: str | None = None) -> int:
        """Remove the tenant's entries (of ``namespace``) from both tiers, everywhere; L2's count."""
        removed = await self._l2.delete_tenant(tenant_id, namespace=namespace)
        await self._l1.delete_tenant(tenant_id, namespace=namespace)
        await self._broadcast(Invalidation(tenant_id=tenant_id, namespace=namespace))
        return removed

    async def delete_matching(self, tenant_id: str, pattern: str, *, namespace: str) -> int:
        """Remove the tenant's keys in ``namespace`` matching the glob ``pattern`` (``*``, ``?``
        over the escaped segments) from both tiers, everywhere; L2's count."""
        keys.match_pattern(tenant_id, namespace, pattern)
        matching = getattr(self._l2, "delete_matching", None)
        if matching is None:
            raise ValidationError(f"{type(self._l2).__name__} cannot delete by pattern", field="pattern")
        removed: int = await matching(tenant_id, pattern, namespace=namespace)
        await self._l1.delete_matching(tenant_id, pattern, namespace=namespace)
        await self._broadcast(Invalidation(tenant_id=tenant_id, namespace=namespace, pattern=pattern))
        return removed

    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        """On L2 only (counters are shared); any L1 copy is dropped everywhere."""
        value = await self._l2.incr(key, amount=amount, ttl=ttl)
        await self._l1.delete(key)
        await self._broadcast(Invalidation(keys=(key,)))
        return value

    async def index_add(self, index: str, key: str, *, ttl: float | None = None) -> None:
        """On L2 only: the index is shared by every instance."""
        await self._l2.index_add(index, key, ttl=ttl)

    async def index_members(self, index: str) -> list[str]:
        """L2's index."""
        return await self._l2.index_members(index)

    async def delete_indexed(self, index: str) -> int:
        """Delete the listed keys from L2, and their L1 copies everywhere; L2's count."""
        members = await self._l2.index_members(index)
        removed = await self._l2.delete_indexed(index)
        for key in members:
            await self._l1.delete(key)
        if members:
            await self._broadcast(Invalidation(keys=tuple(members)))
        return removed

    @property
    def supports_ranking(self) -> bool:
        """As L2."""
        return self._l2.supports_ranking

    async def rank_add(
        self, index: str, increments: Mapping[str, float], *, max_members: int, ttl: float | None = None
    ) -> None:
        """On L2 only: the ranking is shared by every instance."""
        await self._l2.rank_add(index, increments, max_members=max_members, ttl=ttl)

    async def rank_top(self, index: str, count: int) -> list[tuple[str, float]]:
        """L2's ranking."""
        return await self._l2.rank_top(index, count)

    async def ping(self) -> bool:
        """L2 answers."""
        return await self._l2.ping()

    async def health(self) -> ComponentHealth:
        """L2's probe, with each tier's hit rate in the details."""
        report = await self._l2.health()
        return report.model_copy(update={"details": {**report.details, "tiers": self.stats.rates()}})

    async def aclose(self) -> None:
        """Stop listening and close L2."""
        if self._channel is not None:
            await self._channel.aclose()
        await self._l2.aclose()
