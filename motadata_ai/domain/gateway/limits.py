"""LocalLimits: token buckets and circuit breakers held in this process.

The gateway's limits when no shared store is configured, and its fallback (policy ``local``) when
the shared store fails. The clock is injected so tests drive refills and recovery timeouts.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence

from motadata_ai.domain.values import keys
from motadata_ai.domain.values.limits import (
    CLOSED,
    BreakerDecision,
    BreakerState,
    BucketSpec,
    BucketState,
    LimitDecision,
    breaker_acquire,
    breaker_record,
    take_buckets,
)
from motadata_ai.ports.limits import LimitsPort

_MAX_BUCKETS = 100_000


@functools.lru_cache(maxsize=16_384)  # every call builds its buckets' keys: build each once
def bucket_key(tenant_id: str, kind: str, model: str | None = None) -> str:
    """The key of a tenant's bucket: ``{tenant}:rl:<kind>`` (``req``, ``tok``), or per model
    ``{tenant}:rl:model:<model>:<kind>`` (the model escaped)."""
    if model is None:
        return keys.tenant_key(tenant_id, keys.RATE_LIMITS, kind)
    return keys.tenant_key(tenant_id, keys.RATE_LIMITS, "model", model, kind)


def bucket_scope(key: str) -> str:
    """What a refused bucket limits, for errors: ``req``, ``tok``, ``model_req``, ``model_tok``."""
    segments = keys.parse_key(key).segments
    return ("model_" if segments[0] == "model" else "") + segments[-1]


@functools.lru_cache(maxsize=1024)
def circuit_key(model: str) -> str:
    """The key of a model's circuit, shared by every tenant: ``{~}:cb:<model>``."""
    return keys.shared_key(keys.BREAKERS, model)


def circuit_label(key: str) -> str:
    """How health reports a circuit: ``cb:<model>``."""
    return "cb:" + keys.parse_key(key).segments[-1]


class LocalLimits(LimitsPort):
    """In-process buckets and breakers; every update runs without an ``await``, so it is atomic."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, BucketState] = {}
        self._breakers: dict[str, BreakerState] = {}

    @property
    def remote(self) -> bool:
        """``False``: the state lives in this process, which cannot be down while it runs."""
        return False

    async def take(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        """Take from every bucket or none."""
        return self.take_now(buckets, force=force)

    def take_now(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        """The synchronous form of :meth:`take` (no I/O here)."""
        known = self._buckets
        for spec in buckets:
            if spec.key not in known:  # a bucket held here was checked when it was made
                keys.check_key(spec.key, namespace=keys.RATE_LIMITS, field="bucket key")
        if len(self._buckets) > _MAX_BUCKETS:
            self._evict_full()
        return take_buckets(self._buckets, buckets, self._clock(), force=force)

    def _evict_full(self) -> None:
        # Buckets untouched for an hour are full again; forgetting them changes nothing.
        cutoff = self._clock() - 3600.0
        for key in [k for k, s in self._buckets.items() if s.updated < cutoff]:
            del self._buckets[key]

    async def breaker_acquire(
        self, key: str, *, recovery_timeout: float, half_open_max_calls: int = 1
    ) -> BreakerDecision:
        """Let the call through unless the circuit is open (or its half-open probes are taken)."""
        keys.check_key(key, namespace=keys.BREAKERS, field="breaker key")
        state = self._breakers.get(key, CLOSED)
        if state is CLOSED:
            return BreakerDecision(allowed=True, state=CLOSED)
        decision, new_state = breaker_acquire(
            state, self._clock(), recovery_timeout=recovery_timeout, half_open_max_calls=half_open_max_calls
        )
        self._breakers[key] = new_state
        return decision

    async def breaker_record(self, key: str, *, success: bool, failure_threshold: int) -> BreakerState:
        """Move the circuit after a call's outcome."""
        keys.check_key(key, namespace=keys.BREAKERS, field="breaker key")
        state = self._breakers.get(key, CLOSED)
        new_state = breaker_record(state, self._clock(), success=success, failure_threshold=failure_threshold)
        if new_state is CLOSED:
            self._breakers.pop(key, None)
        else:
            self._breakers[key] = new_state
        return new_state

    async def breaker_states(self) -> dict[str, BreakerState]:
        """Every circuit not in its initial closed state."""
        return dict(self._breakers)

    async def reset(self, tenant_id: str | None = None) -> None:
        """Forget the buckets and circuits of ``tenant_id`` (all of them when ``None``)."""
        if tenant_id is None:
            self._buckets.clear()
            self._breakers.clear()
            return
        prefix = keys.scope_prefix(tenant_id)
        for store in (self._buckets, self._breakers):
            for key in [k for k in store if k.startswith(prefix)]:
                del store[key]
