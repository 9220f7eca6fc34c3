"""CircuitCache: a cache server (Redis) behind a circuit, so a dead or frozen one costs nothing.

A :class:`~motadata_ai.ports.cache.CachePort` decorator. While its
:class:`~motadata_ai.domain.gateway.store_circuit.StoreCircuit` is closed every call goes to
``primary``; once the primary fails with a :class:`~motadata_ai.domain.values.errors.ServiceError`,
the circuit opens and every call raises :class:`CacheBypassed` (a :class:`CacheUnavailable`) at
once, without touching the socket, until the circuit lets a probe through. Callers that fail open
on ``CacheUnavailable`` (the gateway: a miss, the answer not stored) thus pay one short socket
timeout per outage instead of one per call. :meth:`ping` always asks the primary (it is the health
check) and its answer moves the circuit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from motadata_ai.domain.gateway.store_circuit import CircuitGuarded, StoreCircuit
from motadata_ai.ports.cache import CachePort, CacheUnavailable

__all__ = ["CacheBypassed", "CircuitCache"]

log = logging.getLogger("motadata_ai.gateway.cache")
T = TypeVar("T")


class CacheBypassed(CacheUnavailable):
    """The cache was not asked: its circuit is open after a failure (``retry_after`` seconds left)."""


class CircuitCache(CachePort, CircuitGuarded):
    """``primary`` behind ``circuit`` (which may be shared with the limits on the same server).

    :attr:`counters` counts store calls, failures and bypassed calls.
    """

    def __init__(self, primary: CachePort, *, circuit: StoreCircuit | None = None) -> None:
        self._primary = primary
        self._circuit = circuit or StoreCircuit()

    @property
    def primary(self) -> CachePort:
        """The cache behind the circuit."""
        return self._primary

    async def _through(self, operation: str, key: str | None, call: Callable[[], Awaitable[T]]) -> T:
        if not self._circuit.allow():
            wait = self._circuit.retry_after
            raise CacheBypassed(
                f"cache not asked during {operation}: its circuit is open for {wait:.2f} s after a failure",
                operation=operation,
                key=key,
                retry_after=wait,
            )
        def opening(error: Exception) -> None:
            log.warning(
                "cache failed during %s; not asked again for %.2f s: %s",
                operation, self._circuit.retry_after, error,
            )

        return await self._circuit.run(call, on_opening=opening)

    async def get(self, key: str) -> bytes | None:
        """The primary's value; :class:`CacheBypassed` while the circuit is open."""
        return await self._through("get", key, lambda: self._primary.get(key))

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store on the primary; :class:`CacheBypassed` while the circuit is open."""
        await self._through("set", key, lambda: self._primary.set(key, value, ttl=ttl))

    async def delete(self, key: str) -> bool:
        """Remove from the primary; :class:`CacheBypassed` while the circuit is open."""
        return await self._through("delete", key, lambda: self._primary.delete(key))

    async def delete_tenant(self, tenant_id: str, *, namespace: str | None = None) -> int:
        """Erase on the primary; :class:`CacheBypassed` while the circuit is open (nothing erased)."""
        return await self._through(
            "delete_tenant", None, lambda: self._primary.delete_tenant(tenant_id, namespace=namespace)
        )

    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        """Count on the primary; :class:`CacheBypassed` while the circuit is open."""
        return await self._through("incr", key, lambda: self._primary.incr(key, amount=amount, ttl=ttl))

    async def index_add(self, index: str, key: str, *, ttl: float | None = None) -> None:
        """Index on the primary; :class:`CacheBypassed` while the circuit is open."""
        await self._through("index_add", index, lambda: self._primary.index_add(index, key, ttl=ttl))

    async def index_members(self, index: str) -> list[str]:
        """The primary's index; :class:`CacheBypassed` while the circuit is open."""
        return await self._through("index_members", index, lambda: self._primary.index_members(index))

    async def delete_indexed(self, index: str) -> int:
        """Erase on the primary; :class:`CacheBypassed` while the circuit is open (nothing erased)."""
        return await self._through("delete_indexed", index, lambda: self._primary.delete_indexed(index))

    @property
    def supports_ranking(self) -> bool:
        """As the primary."""
        return self._primary.supports_ranking

    async def rank_add(
        self, index: str, increments: Mapping[str, float], *, max_members: int, ttl: float | None = None
    ) -> None:
        """Rank on the primary; :class:`CacheBypassed` while the circuit is open."""
        await self._through(
            "rank_add",
            index,
            lambda: self._primary.rank_add(index, increments, max_members=max_members, ttl=ttl),
        )

    async def rank_top(self, index: str, count: int) -> list[tuple[str, float]]:
        """The primary's ranking; :class:`CacheBypassed` while the circuit is open."""
        return await self._through("rank_top", index, lambda: self._primary.rank_top(index, count))

    async def ping(self) -> bool:
        """Ask the primary whatever the circuit's state; its answer moves the circuit."""
        return await self._ping_through(self._primary.ping)

    async def aclose(self) -> None:
        """Close the primary."""
        await self._primary.aclose()
