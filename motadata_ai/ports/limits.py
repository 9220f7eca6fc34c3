"""LimitsPort: shared token buckets and circuit-breaker state, updated atomically.

With one process the in-memory adapter holds the state; with several gateway instances the Redis
adapter does, running each update as one server-side script so instances never race.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable
from motadata_ai.domain.values.limits import BreakerDecision, BreakerState, BucketSpec, LimitDecision
from motadata_ai.ports.health import HealthProbe


class LimitsError(ServiceError):
    """The limits store failed."""


class LimitsUnavailable(LimitsError, StoreUnavailable):
    """The limits store cannot be reached; ``address`` names it with credentials masked."""


class LimitsPort(HealthProbe):
    """Token buckets and circuit breakers whose state may be shared between processes.

    Keys follow the SDK's scheme (:mod:`motadata_ai.domain.values.keys`): bucket keys lie in
    namespace ``rl`` of a tenant (``keys.tenant_key(tenant, keys.RATE_LIMITS, "req")``), breaker keys
    in namespace ``cb`` (``keys.shared_key(keys.BREAKERS, model)``); any other key is a
    ``ValidationError``. Time is the store's own clock, so every instance sharing a store agrees on it.
    Its :meth:`health` probe is one round trip to the store (a ``PING``), or the process's own state.
    """

    @property
    def remote(self) -> bool:
        """``True`` when the state lives outside this process (a server that can be down or
        slow), so callers put it behind a circuit; in-process state answers ``False``."""
        return True

    @abstractmethod
    async def take(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        """Atomically take each bucket's ``amount`` when every bucket holds enough, else nothing.

        With ``force`` the amounts are taken regardless, letting a bucket go negative (charging
        tokens that are only known after a call).
        """

    @abstractmethod
    async def breaker_acquire(
        self, key: str, *, recovery_timeout: float, half_open_max_calls: int = 1
    ) -> BreakerDecision:
        """May a call go through circuit ``key`` now? An open circuit turns half-open after
        ``recovery_timeout`` and lets ``half_open_max_calls`` probes through."""

    @abstractmethod
    async def breaker_record(self, key: str, *, success: bool, failure_threshold: int) -> BreakerState:
        """Record a call's outcome: success closes the circuit; ``failure_threshold`` consecutive
        failures (or one failed probe) open it. Returns the new state."""

    @abstractmethod
    async def breaker_states(self) -> dict[str, BreakerState]:
        """Every circuit the store knows, by key."""

    @abstractmethod
    async def reset(self, tenant_id: str | None = None) -> None:
        """Forget the buckets and circuits of ``tenant_id`` (every tenant's and the shared
        circuits when ``None``); another tenant's state is never touched."""

    async def ping(self) -> bool:
        """``True`` when the store answers."""
        await self.breaker_states()
        return True

    async def aclose(self) -> None:
        """Release connections."""
