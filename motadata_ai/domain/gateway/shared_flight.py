"""Cross-instance de-duplication: identical in-flight calls of a tenant on every instance sharing
a lease store make one provider call.

:class:`SharedFlight` runs on the in-process leader of a call key (the in-process
:class:`~motadata_ai.domain.gateway.steps.dedup.Deduplicate` step stays the fast path, so each
instance has at most one caller here per key). It takes the lease on the key (``SET NX PX`` on
Redis): the holder calls the provider, extends the lease every third of its TTL while it waits,
and releases it together with its encoded answer. An instance that finds the lease taken polls
for that answer every ``poll_interval`` and tries the lease again, so when the holder dies (its
lease is no longer extended and expires) one of the waiting instances takes over and calls the
provider itself. An answer the privacy cache policy keeps out of the shared cache is never
handed over: the holder releases with an empty result, and each waiting instance calls the
provider on its own. A lease store that fails or whose circuit is open is skipped (fail open:
the call goes to the provider, as without it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.store_circuit import StoreCircuit
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.ports.leases import LeasePort

__all__ = ["Handover", "SharedFlight", "SharedFlightCounters"]

log = logging.getLogger("motadata_ai.gateway")

T = TypeVar("T")
R = TypeVar("R")

_FAILED = object()
"""What a store operation gives when the store failed or its circuit was open."""

NOT_SHARED = b""
"""The result a holder leaves when its answer must not go through the shared store."""


@dataclass
class SharedFlightCounters:
    """What the cross-instance de-duplication did since start."""

    led: int = 0
    """Calls this instance made to the provider holding the lease."""
    waited: int = 0
    """Calls that found the lease held by another instance and waited for its answer."""
    joined: int = 0
    """Calls answered by another instance's provider call."""
    took_over: int = 0
    """Leases taken after waiting (the holder finished without a shareable answer, or died)."""
    failed_open: int = 0
    """Calls that went to the provider because the lease store failed or its circuit was open."""


@dataclass(frozen=True)
class Handover(Generic[T]):
    """How one kind of answer travels: ``encode`` (``None``: do not share it) and ``decode``
    (``None``: not a usable answer)."""

    encode: Callable[[T], bytes | None]
    decode: Callable[[bytes], T | None]


class SharedFlight:
    """One provider call per key across the instances sharing ``leases`` (see the module docstring).

    ``ttl`` is the lease's lifetime in seconds (a dead holder is replaced after at most that long),
    ``poll_interval`` how often a waiting instance looks for the answer; ``sleep`` and ``circuit``
    are injectable for tests.
    """

    def __init__(
        self,
        leases: LeasePort,
        *,
        ttl: float = 5.0,
        poll_interval: float = 0.02,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        circuit: StoreCircuit | None = None,
        instance: str | None = None,
    ) -> None:
        if not 0 < poll_interval < ttl:
            raise ValueError(f"need 0 < poll_interval < ttl, got {poll_interval}, {ttl}")
        self._leases = leases
        self._ttl = ttl
        self._poll = poll_interval
        self._sleep = sleep
        self._circuit = circuit or StoreCircuit()
        self._instance = instance or uuid.uuid4().hex[:16]
        self._sequence = itertools.count()
        self.counters = SharedFlightCounters()

    @classmethod
    def configured(
        cls,
        leases: LeasePort | None,
        config: GatewayConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> SharedFlight | None:
        """The policy over ``leases`` with the gateway's ``dedup_lease_ttl`` and
        ``dedup_poll_interval`` (``None`` without a lease store)."""
        if leases is None:
            return None
        ttl = config.dedup_lease_ttl
        poll = min(config.dedup_poll_interval, ttl / 2)
        return cls(leases, ttl=ttl, poll_interval=poll, sleep=sleep, circuit=StoreCircuit(clock=clock))

    async def run(
        self, key: str, produce: Callable[[], Awaitable[T]], handover: Handover[T]
    ) -> tuple[T, bool]:
        """``(answer, joined)``: another instance's answer (``joined``), or ``produce()``'s."""
        owner = f"{self._instance}-{next(self._sequence)}"
        waited = False
        while True:
            leading = await self._store(lambda: self._leases.acquire(key, owner=owner, ttl=self._ttl))
            if leading is _FAILED:
                self.counters.failed_open += 1
                return await produce(), False
            if leading and not waited:
                break
            if not waited:
                self.counters.waited += 1
                waited = True
            # waiting, or the lease just came free: the holder may have left its answer (it stores
            # the answer before it drops the lease, so an answer is there if it finished)
            data = await self._store(lambda: self._leases.result(key))
            if data is _FAILED:
                self.counters.failed_open += 1
                return await produce(), False
            if data == NOT_SHARED:
                if leading:
                    await self._release(key, owner, None)
                return await produce(), False
            if isinstance(data, bytes):
                answer = handover.decode(data)
                if answer is not None:
                    if leading:
                        await self._release(key, owner, None)
                    self.counters.joined += 1
                    return answer, True
            if leading:
                self.counters.took_over += 1
                break
            await self._sleep(self._poll)
        self.counters.led += 1
        return await self._lead(key, owner, produce, handover), False

    async def _lead(
        self, key: str, owner: str, produce: Callable[[], Awaitable[T]], handover: Handover[T]
    ) -> T:
        keeper = asyncio.ensure_future(self._keep_alive(key, owner))
        try:
            answer = await produce()
        except BaseException:
            keeper.cancel()
            await self._release(key, owner, None)  # a waiting instance takes over
            raise
        keeper.cancel()
        encoded = handover.encode(answer)
        await self._release(key, owner, NOT_SHARED if encoded is None else encoded)
        return answer

    async def _keep_alive(self, key: str, owner: str) -> None:
        while True:
            await self._sleep(self._ttl / 3)
            if await self._store(lambda: self._leases.extend(key, owner=owner, ttl=self._ttl)) is not True:
                return  # lost (expired under a stall, or the store failed): the answer is still handed over

    async def _release(self, key: str, owner: str, result: bytes | None) -> None:
        await asyncio.shield(
            self._store(lambda: self._leases.release(key, owner=owner, result=result, result_ttl=self._ttl))
        )

    async def _store(self, operation: Callable[[], Awaitable[R]]) -> R | object:
        """The store's answer, or :data:`_FAILED` when it failed or its circuit is open (the
        circuit's opening is logged once)."""
        if not self._circuit.allow():
            return _FAILED
        try:
            return await self._circuit.run(operation, on_opening=_log_opening)
        except ServiceError:
            return _FAILED


def _log_opening(error: Exception) -> None:
    log.warning("lease store failed; identical calls are de-duplicated within each instance only: %s", error)
