"""InMemoryLeases: the in-process LeasePort (one process; instances of one process share it).

Every operation completes without awaiting, so it is atomic with respect to other coroutines of
the event loop. ``clock`` (monotonic seconds) drives expiry, so tests move time by hand. Results
are bounded to ``max_results`` (the oldest dropped first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.leases import LeasePort, check_lease_key, check_owner, check_seconds

__all__ = ["InMemoryLeases"]


class InMemoryLeases(InProcessProbe, LeasePort):
    """Leases and results in dicts, expiring by ``clock``."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_results: int = 10_000) -> None:
        if max_results < 1:
            raise ValidationError("max_results must be at least 1", field="max_results")
        self._clock = clock
        self._max_results = max_results
        self._leases: dict[str, tuple[str, float]] = {}
        self._results: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()

    def _holder(self, key: str) -> str | None:
        held = self._leases.get(key)
        if held is None:
            return None
        if held[1] <= self._clock():
            del self._leases[key]
            return None
        return held[0]

    async def acquire(self, key: str, *, owner: str, ttl: float) -> bool:
        """Take the lease when it is free or expired (or already ``owner``'s)."""
        key, owner, seconds = check_lease_key(key), check_owner(owner), check_seconds(ttl, field="ttl")
        holder = self._holder(key)
        if holder is not None and holder != owner:
            return False
        if holder is None:
            self._leases[key] = (owner, self._clock() + seconds)
        return True

    async def extend(self, key: str, *, owner: str, ttl: float) -> bool:
        """New expiry ``ttl`` from now, when ``owner`` holds the lease."""
        key, owner, seconds = check_lease_key(key), check_owner(owner), check_seconds(ttl, field="ttl")
        if self._holder(key) != owner:
            return False
        self._leases[key] = (owner, self._clock() + seconds)
        return True

    async def release(
        self, key: str, *, owner: str, result: bytes | None = None, result_ttl: float | None = None
    ) -> bool:
        """Store ``result`` and drop ``owner``'s lease."""
        key, owner = check_lease_key(key), check_owner(owner)
        if result is not None:
            if not isinstance(result, bytes | bytearray | memoryview):
                raise ValidationError("a lease result is bytes", field="result")
            expires = (
                None if result_ttl is None else self._clock() + check_seconds(result_ttl, field="result_ttl")
            )
            self._results.pop(key, None)
            self._results[key] = (bytes(result), expires)
            while len(self._results) > self._max_results:
                self._results.popitem(last=False)
        if self._holder(key) != owner:
            return False
        del self._leases[key]
        return True

    async def result(self, key: str) -> bytes | None:
        """The stored result, unless it expired."""
        key = check_lease_key(key)
        stored = self._results.get(key)
        if stored is None:
            return None
        if stored[1] is not None and stored[1] <= self._clock():
            del self._results[key]
            return None
        return stored[0]
