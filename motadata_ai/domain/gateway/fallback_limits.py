"""FallbackLimits: a shared limits store (Redis) with a circuit and an in-process fallback.

A :class:`~motadata_ai.ports.limits.LimitsPort` decorator: every call goes to ``primary`` while its
:class:`~motadata_ai.domain.gateway.store_circuit.StoreCircuit` is closed. When the primary fails
(any :class:`~motadata_ai.domain.values.errors.ServiceError`: unreachable, timed out, or refusing),
the circuit opens and, until it lets a probe through, the primary is not touched at all, so a dead
or frozen server costs one short socket timeout, then nothing. Meanwhile:

* token buckets follow the failure ``policy``: ``local`` takes from in-process buckets with the
  same limits, ``allow`` lets every call through, ``deny`` refuses every call with the bucket
  :data:`UNAVAILABLE` (the gateway raises ``RateLimited(scope=["limits_unavailable"])``);
* breakers always use in-process state (a breaker that cannot be read never blocks a call).

Caller mistakes (an invalid key: ``ValidationError``) go to the caller and say nothing about the
store. :meth:`ping` always asks the primary (it is the health check) and feeds the answer to the
circuit, so a health check after the server is back closes it. When the circuit closes again, the
in-process state of the outage is dropped: the store is authoritative again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from motadata_ai.domain.gateway.limits import LocalLimits
from motadata_ai.domain.gateway.store_circuit import CircuitGuarded, StoreCircuit
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.limits import BreakerDecision, BreakerState, BucketSpec, LimitDecision
from motadata_ai.ports.limits import LimitsPort

__all__ = ["UNAVAILABLE", "FailurePolicy", "FallbackLimits"]

log = logging.getLogger("motadata_ai.gateway.limits")
T = TypeVar("T")
FailurePolicy = Literal["local", "allow", "deny"]

UNAVAILABLE = "limits_unavailable"
"""The refused "bucket" of a call denied because the limits store is down (policy ``deny``)."""
_DENY_RETRY_MIN = 0.1


class FallbackLimits(LimitsPort, CircuitGuarded):
    """``primary`` behind a circuit, ``local`` (in-process) while the circuit is open.

    ``policy`` is what token buckets do while the primary is unusable (see the module docstring);
    ``circuit`` may be shared with the cache on the same server, so one failure detected by either
    spares both the socket. :attr:`counters` counts store calls, failures and bypassed calls.
    """

    def __init__(
        self,
        primary: LimitsPort,
        *,
        local: LocalLimits | None = None,
        policy: FailurePolicy = "local",
        circuit: StoreCircuit | None = None,
    ) -> None:
        if policy not in ("local", "allow", "deny"):
            raise ValueError(f"unknown limits failure policy {policy!r}")
        self._primary = primary
        self._local = local or LocalLimits()
        self._policy: FailurePolicy = policy
        self._circuit = circuit or StoreCircuit()
        self._local_used = False  # in-process state was used since the store last answered

    @property
    def primary(self) -> LimitsPort:
        """The shared store behind the circuit."""
        return self._primary

    @property
    def policy(self) -> FailurePolicy:
        """What token buckets do while the shared store is unusable."""
        return self._policy

    async def _through(self, operation: str, use: Callable[[LimitsPort], Awaitable[T]]) -> T | None:
        """``use(primary)`` when the circuit lets it; ``None`` (the caller answers from in-process
        state) when it did not, or it failed."""
        if not self._circuit.allow():
            self._local_used = True
            return None
        def opening(error: Exception) -> None:
            log.warning(
                "limits store failed during %s; in-process limits (policy %s) for %.2f s: %s",
                operation, self._policy, self._circuit.retry_after, error,
            )

        try:
            result = await self._circuit.run(lambda: use(self._primary), on_opening=opening)
        except ServiceError:
            self._local_used = True
            return None
        if self._local_used:
            await self._recovered()
        return result

    async def _recovered(self) -> None:
        # The store is authoritative again: state kept in process during the outage (buckets, a
        # model's circuit opened locally) is stale and must not linger in health.
        if self._circuit.state == "closed":
            self._local_used = False
            log.info("limits store answers again; in-process state of the outage dropped")
            await self._local.reset()

    async def take(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        """The primary's decision; while it is unusable, the failure policy's."""
        if not buckets:
            return LimitDecision(allowed=True)
        decision = await self._through("take", lambda limits: limits.take(buckets, force=force))
        if decision is not None:
            return decision
        if self._policy == "allow":
            return LimitDecision(allowed=True)
        if self._policy == "deny":
            wait = max(self._circuit.retry_after, _DENY_RETRY_MIN)
            return LimitDecision(allowed=False, retry_after=wait, refused=(UNAVAILABLE,))
        return self._local.take_now(buckets, force=force)

    async def breaker_acquire(
        self, key: str, *, recovery_timeout: float, half_open_max_calls: int = 1
    ) -> BreakerDecision:
        """The shared circuit's decision; the in-process one while the store is unusable."""
        decision = await self._through(
            "breaker_acquire",
            lambda limits: limits.breaker_acquire(
                key, recovery_timeout=recovery_timeout, half_open_max_calls=half_open_max_calls
            ),
        )
        if decision is not None:
            return decision
        return await self._local.breaker_acquire(
            key, recovery_timeout=recovery_timeout, half_open_max_calls=half_open_max_calls
        )

    async def breaker_record(self, key: str, *, success: bool, failure_threshold: int) -> BreakerState:
        """Record on the shared circuit; on the in-process one while the store is unusable."""
        state = await self._through(
            "breaker_record",
            lambda limits: limits.breaker_record(key, success=success, failure_threshold=failure_threshold),
        )
        if state is not None:
            return state
        return await self._local.breaker_record(key, success=success, failure_threshold=failure_threshold)

    async def breaker_states(self) -> dict[str, BreakerState]:
        """The shared circuits (when the store is usable) and the in-process ones it lacks."""
        states = await self._through("breaker_states", lambda limits: limits.breaker_states()) or {}
        for key, state in (await self._local.breaker_states()).items():
            states.setdefault(key, state)
        return states

    async def reset(self, tenant_id: str | None = None) -> None:
        """Forget the state of ``tenant_id`` in process and on the store (whose failure is
        raised: an erasure that did not happen must not look done)."""
        await self._local.reset(tenant_id)
        await self._primary.reset(tenant_id)

    async def ping(self) -> bool:
        """Ask the primary whatever the circuit's state; its answer moves the circuit."""
        answer = await self._ping_through(self._primary.ping)
        if self._local_used:
            await self._recovered()
        return answer

    async def health(self) -> ComponentHealth:
        """The primary's own probe (whatever the circuit's state), with the circuit's state and the
        failure policy; ``degraded`` while the circuit is not closed though the store answers."""
        report = await self._primary.health()
        state = self.circuit_state
        details = {
            "adapter": type(self._primary).__name__,
            **report.details,
            "circuit": state,
            "failure_policy": self._policy,
        }
        status = "degraded" if report.status == "ok" and state != "closed" else report.status
        return report.model_copy(update={"status": status, "details": details})

    async def aclose(self) -> None:
        """Close the primary."""
        await self._primary.aclose()
