"""StoreCircuit: closed → open after a failure for a growing, jittered interval → one half-open
probe → closed again; driven by a fake clock."""

from __future__ import annotations

import pytest

from motadata_ai.domain.gateway.store_circuit import StoreCircuit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def circuit(clock: Clock, random: float = 0.5, **options: float) -> StoreCircuit:
    return StoreCircuit(clock=clock, random=lambda: random, **options)


def test_a_closed_circuit_lets_every_call_through() -> None:
    breaker = circuit(Clock())
    assert [breaker.allow() for _ in range(5)] == [True] * 5
    assert breaker.state == "closed" and breaker.counters.attempts == 5 and breaker.counters.bypassed == 0


def test_one_failure_opens_it_for_the_base_interval_without_any_attempt() -> None:
    clock = Clock()
    breaker = circuit(clock, base_interval=0.5)
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and breaker.retry_after == pytest.approx(0.5)
    clock.advance(0.49)
    assert [breaker.allow() for _ in range(100)] == [False] * 100
    assert breaker.counters.attempts == 1 and breaker.counters.bypassed == 100


def test_after_the_interval_exactly_one_probe_goes_through() -> None:
    clock = Clock()
    breaker = circuit(clock, base_interval=0.5)
    breaker.allow()
    breaker.failure()
    clock.advance(0.5)
    assert breaker.state == "half_open"
    assert breaker.allow() is True  # the probe
    assert [breaker.allow() for _ in range(10)] == [False] * 10  # the others stay local
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_each_failed_probe_doubles_the_interval_up_to_the_cap() -> None:
    clock = Clock()
    breaker = circuit(clock, base_interval=0.5, max_interval=4.0)
    breaker.allow()
    breaker.failure()
    intervals = []
    for _ in range(6):
        intervals.append(breaker.retry_after)
        clock.advance(breaker.retry_after)
        assert breaker.allow()
        breaker.failure()
    assert intervals == pytest.approx([0.5, 1.0, 2.0, 4.0, 4.0, 4.0])
    clock.advance(breaker.retry_after)
    assert breaker.allow()
    breaker.success()
    breaker.allow()
    breaker.failure()  # a new outage starts from the base interval again
    assert breaker.retry_after == pytest.approx(0.5)


def test_the_interval_is_jittered() -> None:
    low, high = Clock(), Clock()
    early = circuit(low, random=0.0, base_interval=1.0, jitter=0.2)
    late = circuit(high, random=1.0, base_interval=1.0, jitter=0.2)
    for breaker in (early, late):
        breaker.allow()
        breaker.failure()
    assert early.retry_after == pytest.approx(0.8) and late.retry_after == pytest.approx(1.2)


def test_failures_of_calls_already_in_flight_do_not_extend_an_open_circuit() -> None:
    clock = Clock()
    breaker = circuit(clock, base_interval=0.5)
    for _ in range(16):
        assert breaker.allow()
    for _ in range(16):
        breaker.failure()
    assert breaker.counters.opened == 1 and breaker.counters.failures == 16
    assert breaker.retry_after == pytest.approx(0.5) and breaker.interval == 0.5


def test_a_late_success_from_before_the_outage_does_not_close_it() -> None:
    clock = Clock()
    breaker = circuit(clock)
    breaker.allow()
    breaker.allow()
    breaker.failure()
    breaker.success()
    assert breaker.state == "open"


def test_a_released_probe_passes_the_turn_and_a_lost_one_times_out() -> None:
    clock = Clock()
    breaker = circuit(clock, base_interval=0.5, probe_timeout=5.0)
    breaker.allow()
    breaker.failure()
    clock.advance(0.5)
    assert breaker.allow()
    breaker.release()  # cancelled: no verdict
    assert breaker.allow()  # the next caller probes at once
    clock.advance(4.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()  # the unreported probe no longer blocks


def test_close_after_a_health_check_closes_an_open_circuit() -> None:
    breaker = circuit(Clock())
    breaker.allow()
    breaker.failure()
    breaker.close()
    assert breaker.state == "closed" and breaker.allow()


@pytest.mark.parametrize(
    "options",
    [
        {"base_interval": 0.0},
        {"base_interval": 2.0, "max_interval": 1.0},
        {"jitter": 1.0},
        {"probe_timeout": 0},
    ],
)
def test_bad_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        StoreCircuit(**options)
