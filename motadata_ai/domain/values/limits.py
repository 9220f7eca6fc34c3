"""Value types of shared rate-limit and circuit-breaker state, and the pure rules that move it.

The rules (:func:`take_buckets`, :func:`breaker_acquire`, :func:`breaker_record`) are plain
functions of a state, the parameters and ``now``: the in-process limits call them, and the Redis
adapter runs the same rules in a server-side script, so every store behaves alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

BreakerStateName = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """One token bucket to take from: ``capacity`` tokens, refilled at ``refill_per_second``.

    ``amount`` is what this call takes. ``key`` is already tenant-scoped by the caller.
    """

    key: str
    capacity: float
    refill_per_second: float
    amount: float = 1.0


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """The outcome of an atomic take over several buckets (all or nothing).

    ``retry_after`` is the seconds until every refused bucket holds enough again (0 when allowed);
    ``refused`` names the buckets that were short.
    """

    allowed: bool
    retry_after: float = 0.0
    refused: tuple[str, ...] = ()


@dataclass(slots=True)
class BucketState:
    """Tokens in a bucket at time ``updated`` (seconds on the store's clock)."""

    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class BreakerState:
    """The shared state of one circuit (per provider and model).

    ``failures`` counts consecutive failures while closed; ``opened_at`` is when it last opened;
    ``probes`` counts half-open trial calls in flight since ``probe_started``.
    """

    state: BreakerStateName = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probes: int = 0
    probe_started: float = 0.0


@dataclass(frozen=True, slots=True)
class BreakerDecision:
    """Whether a call may go to the circuit's model now; ``retry_after`` when it may not."""

    allowed: bool
    state: BreakerState
    retry_after: float = 0.0


CLOSED = BreakerState()


def _refilled(state: BucketState | None, spec: BucketSpec, now: float) -> float:
    if state is None:
        return spec.capacity
    elapsed = max(0.0, now - state.updated)
    return min(spec.capacity, state.tokens + elapsed * spec.refill_per_second)


def take_buckets(
    states: dict[str, BucketState], specs: Sequence[BucketSpec], now: float, *, force: bool = False
) -> LimitDecision:
    """Take ``amount`` from every bucket in ``specs`` when all hold enough; else take nothing.

    ``states`` is updated in place. With ``force`` the amounts are taken regardless (a bucket may go
    negative): used to charge tokens only known after a call.
    """
    levels = [_refilled(states.get(spec.key), spec, now) for spec in specs]
    if not force:
        refused: list[str] = []
        wait = 0.0
        for spec, level in zip(specs, levels, strict=True):
            # A request larger than the whole bucket is admitted once the bucket is full.
            needed = min(spec.amount, spec.capacity)
            if level + 1e-9 < needed:
                refused.append(spec.key)
                rate = spec.refill_per_second
                wait = max(wait, (needed - level) / rate if rate > 0 else math.inf)
        if refused:
            return LimitDecision(allowed=False, retry_after=wait, refused=tuple(refused))
    for spec, level in zip(specs, levels, strict=True):
        states[spec.key] = BucketState(tokens=level - spec.amount, updated=now)
    return LimitDecision(allowed=True)


def breaker_acquire(
    state: BreakerState, now: float, *, recovery_timeout: float, half_open_max_calls: int
) -> tuple[BreakerDecision, BreakerState]:
    """Decide whether a call may pass, and the new state (open turns half-open after the timeout).

    A half-open probe whose result never came back frees its slot after ``recovery_timeout``.
    """
    if state.state == "closed":
        return BreakerDecision(allowed=True, state=state), state
    if state.state == "open":
        reopen_at = state.opened_at + recovery_timeout
        if now < reopen_at:
            return BreakerDecision(allowed=False, state=state, retry_after=reopen_at - now), state
        probing = BreakerState("half_open", state.failures, state.opened_at, 1, now)
        return BreakerDecision(allowed=True, state=probing), probing
    if now - state.probe_started >= recovery_timeout:
        probing = BreakerState("half_open", state.failures, state.opened_at, 1, now)
        return BreakerDecision(allowed=True, state=probing), probing
    if state.probes < half_open_max_calls:
        probing = BreakerState(
            "half_open", state.failures, state.opened_at, state.probes + 1, state.probe_started
        )
        return BreakerDecision(allowed=True, state=probing), probing
    retry = max(0.0, state.probe_started + recovery_timeout - now)
    return BreakerDecision(allowed=False, state=state, retry_after=retry), state


def breaker_record(state: BreakerState, now: float, *, success: bool, failure_threshold: int) -> BreakerState:
    """The state after a call's outcome: success closes; failures open at the threshold or in half-open."""
    if success:
        return CLOSED
    if state.state == "half_open":
        return BreakerState("open", state.failures + 1, now, 0, 0.0)
    if state.state == "open":
        return state
    failures = state.failures + 1
    if failures >= failure_threshold:
        return BreakerState("open", failures, now, 0, 0.0)
    return BreakerState("closed", failures, 0.0, 0, 0.0)
