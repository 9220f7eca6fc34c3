"""StoreCircuit: when a shared store (Redis) fails, stop touching it for a short, growing interval.

A pure policy object (no I/O; clock and randomness injected), used by the decorators
:class:`~motadata_ai.domain.gateway.fallback_limits.FallbackLimits` and
:class:`~motadata_ai.domain.gateway.circuit_cache.CircuitCache`::

    closed ──failure──▶ open ──interval elapsed──▶ half_open (one probe in flight)
      ▲                  ▲                              │
      └────success───────┼──────────────────────────────┤
                         └──failure: interval doubles───┘

* ``closed``: every call may use the store.
* ``open``: no call may (callers answer locally, without the socket) until ``open_until``. The
  first failure opens the circuit for ``base_interval`` seconds; each failed probe doubles the
  interval up to ``max_interval``; every interval is jittered by ± ``jitter`` so that many
  processes sharing one server do not probe it in step.
* ``half_open``: the interval has elapsed and exactly one caller (the one :meth:`allow` answered
  ``True``) probes the store; the others keep answering locally. Its success closes the circuit
  and resets the interval; its failure opens it again. A probe that ends without a verdict (it
  was cancelled, or failed for a reason that says nothing about the store) is :meth:`released`,
  and a probe that never reports back stops blocking others after ``probe_timeout``.

Failures reported while the circuit is already open (calls that were in flight when the store
went down) change nothing: one outage opens the circuit once.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from motadata_ai.domain.values.errors import ServiceError

__all__ = ["CircuitCounters", "CircuitGuarded", "StoreCircuit", "StoreCircuitState"]

T = TypeVar("T")

StoreCircuitState = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class CircuitCounters:
    """What a circuit has seen since start: store calls let through, failures, calls refused
    (answered without the store), and how often it opened."""

    attempts: int = 0
    failures: int = 0
    bypassed: int = 0
    opened: int = 0


class StoreCircuit:
    """The circuit of one shared store (see the module docstring for the states).

    ``base_interval`` (seconds) is how long the first failure keeps the store unused,
    ``max_interval`` the longest interval after repeated failed probes, ``jitter`` the fraction
    (0-1) by which each interval varies, ``probe_timeout`` how long an unreported probe blocks
    other probes. Not thread-safe; an event loop's callers never interleave inside a method.
    """

    def __init__(
        self,
        *,
        base_interval: float = 0.5,
        max_interval: float = 30.0,
        jitter: float = 0.2,
        probe_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not 0 < base_interval <= max_interval:
            raise ValueError(f"need 0 < base_interval <= max_interval, got {base_interval}, {max_interval}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        if probe_timeout <= 0:
            raise ValueError(f"probe_timeout must be positive, got {probe_timeout}")
        self._base = base_interval
        self._max = max_interval
        self._jitter = jitter
        self._probe_timeout = probe_timeout
        self._clock = clock
        self._random = random
        self._state: StoreCircuitState = "closed"
        self._interval = base_interval
        self._open_until = 0.0
        self._probe_started = 0.0
        self.counters = CircuitCounters()

    @property
    def state(self) -> StoreCircuitState:
        """``closed``, ``open`` (no call may use the store now) or ``half_open`` (a probe is in
        flight, or the open interval has elapsed and the next caller probes)."""
        if self._state == "open" and self._clock() >= self._open_until:
            return "half_open"
        return self._state

    @property
    def retry_after(self) -> float:
        """Seconds until the store may be tried again (0 when it may be now)."""
        if self._state != "open":
            return 0.0
        return max(0.0, self._open_until - self._clock())

    @property
    def interval(self) -> float:
        """The open interval the next failure (of a probe) starts from, unjittered."""
        return self._interval

    def allow(self) -> bool:
        """May this caller use the store now? ``False`` means: answer without it (counted as
        bypassed). When the open interval has elapsed, the first caller gets ``True`` and is the
        probe; it must report :meth:`success`, :meth:`failure` or :meth:`release`."""
        if self._state == "closed":
            self.counters.attempts += 1
            return True
        now = self._clock()
        if self._state == "open" and now >= self._open_until:
            return self._start_probe(now)
        if self._state == "half_open" and now - self._probe_started >= self._probe_timeout:
            return self._start_probe(now)
        self.counters.bypassed += 1
        return False

    def _start_probe(self, now: float) -> bool:
        self._state = "half_open"
        self._probe_started = now
        self.counters.attempts += 1
        return True

    def success(self) -> None:
        """The store answered: close the circuit (unless it opened meanwhile, when only a
        probe's answer counts)."""
        if self._state == "open":
            return
        self._state = "closed"
        self._interval = self._base

    def close(self) -> None:
        """The store answered a fresh check (a health ping): close the circuit whatever its state."""
        self._state = "closed"
        self._interval = self._base

    def failure(self) -> None:
        """The store failed: open the circuit (a failed probe doubles the interval)."""
        self.counters.failures += 1
        if self._state == "open":
            return
        if self._state == "half_open":
            self._interval = min(self._max, self._interval * 2)
        else:
            self._interval = self._base
        spread = 1.0 + self._jitter * (2.0 * self._random() - 1.0)
        self._state = "open"
        self._open_until = self._clock() + self._interval * spread
        self.counters.opened += 1

    def release(self) -> None:
        """A call ended without a verdict on the store: a probe's turn passes to the next caller."""
        if self._state == "half_open":
            self._state = "open"
            self._open_until = self._clock()

    async def run(self, call: Callable[[], Awaitable[T]], *, on_opening: Callable[[Exception], None]) -> T:
        """``call()`` as one store call the circuit let through (the caller asked :meth:`allow`).

        A :class:`~motadata_ai.domain.values.errors.ServiceError` counts as the store's failure
        (``on_opening`` is told when it opens a circuit that was not open, then it is raised);
        anything else (cancellation, the caller's bad input) frees a probe's turn; an answer
        closes the circuit.
        """
        try:
            result = await call()
        except ServiceError as error:
            was = self._state
            self.failure()
            if was != "open":
                on_opening(error)
            raise
        except BaseException:
            self.release()
            raise
        self.success()
        return result


class CircuitGuarded:
    """What a store decorator behind a :class:`StoreCircuit` reports (for health)."""

    _circuit: StoreCircuit

    @property
    def circuit(self) -> StoreCircuit:
        """The store's circuit."""
        return self._circuit

    @property
    def circuit_state(self) -> StoreCircuitState:
        """``closed``, ``open`` or ``half_open`` (for health)."""
        return self._circuit.state

    @property
    def counters(self) -> CircuitCounters:
        """Store calls let through, failures, bypassed calls, openings."""
        return self._circuit.counters

    async def _ping_through(self, ping: Callable[[], Awaitable[bool]]) -> bool:
        """Ask the store whatever the circuit's state; its answer moves the circuit."""
        try:
            answer = await ping()
        except ServiceError:
            self._circuit.failure()
            raise
        self._circuit.close()
        return answer
