"""Token-bucket refill and circuit-breaker transitions, driven by a fake clock."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.limits import InMemoryLimits
from motadata_ai.domain.gateway.limits import bucket_key, circuit_key
from motadata_ai.domain.values.limits import BucketSpec

from .conftest import FakeClock

pytestmark = pytest.mark.asyncio


async def test_bucket_allows_the_burst_then_refuses_with_retry_after() -> None:
    clock = FakeClock()
    limits = InMemoryLimits(clock=clock)
    spec = [BucketSpec(bucket_key("a", "req"), capacity=3, refill_per_second=1.0)]
    assert [(await limits.take(spec)).allowed for _ in range(3)] == [True, True, True]
    refused = await limits.take(spec)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(1.0)
    assert refused.refused == (bucket_key("a", "req"),)


async def test_bucket_refills_at_its_rate_and_never_beyond_capacity() -> None:
    clock = FakeClock()
    limits = InMemoryLimits(clock=clock)
    spec = [BucketSpec(bucket_key("a", "req"), capacity=2, refill_per_second=0.5)]
    await limits.take(spec)
    await limits.take(spec)
    clock.advance(1.0)  # half a token
    assert not (await limits.take(spec)).allowed
    clock.advance(1.0)  # one token
    assert (await limits.take(spec)).allowed
    clock.advance(3600)  # refills to capacity (2), not 1800
    assert (await limits.take(spec)).allowed
    assert (await limits.take(spec)).allowed
    assert not (await limits.take(spec)).allowed


async def test_take_is_all_or_nothing_across_buckets() -> None:
    clock = FakeClock()
    limits = InMemoryLimits(clock=clock)
    roomy = BucketSpec(bucket_key("a", "req"), capacity=10, refill_per_second=1.0)
    tight = BucketSpec(bucket_key("a", "tok"), capacity=100, refill_per_second=10.0, amount=80)
    assert (await limits.take([roomy, tight])).allowed
    refused = await limits.take([roomy, tight])
    assert not refused.allowed and refused.refused == (bucket_key("a", "tok"),)
    assert refused.retry_after == pytest.approx(6.0)  # 60 more tokens at 10/s
    # The roomy bucket was not charged for the refused call: 9 left, not 8.
    for _ in range(9):
        assert (await limits.take([roomy])).allowed
    assert not (await limits.take([roomy])).allowed


async def test_forced_take_goes_negative_and_delays_the_next_call() -> None:
    clock = FakeClock()
    limits = InMemoryLimits(clock=clock)
    tokens = BucketSpec(bucket_key("a", "tok"), capacity=100, refill_per_second=10.0, amount=50)
    assert (await limits.take([tokens])).allowed
    await limits.take([BucketSpec(bucket_key("a", "tok"), 100, 10.0, amount=150)], force=True)  # -100 now
    refused = await limits.take([BucketSpec(bucket_key("a", "tok"), 100, 10.0, amount=1)])
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(10.1)


async def test_breaker_opens_at_threshold_probes_half_open_and_closes_on_success() -> None:
    clock = FakeClock()
    limits = InMemoryLimits(clock=clock)
    key = circuit_key("test/model")
    for _ in range(4):
        state = await limits.breaker_record(key, success=False, failure_threshold=5)
        assert state.state == "closed"
    assert (await limits.breaker_acquire(key, recovery_timeout=30)).allowed
    state = await limits.breaker_record(key, success=False, failure_threshold=5)
    assert state.state == "open"
    decision = await limits.breaker_acquire(key, recovery_timeout=30)
    assert not decision.allowed and decision.retry_after == pytest.approx(30)
    clock.advance(30)
    probe = await limits.breaker_acquire(key, recovery_timeout=30)
    assert probe.allowed and probe.state.state == "half_open"
    second = await limits.breaker_acquire(key, recovery_timeout=30)
    assert not second.allowed  # one probe at a time
    closed = await limits.breaker_record(key, success=True, failure_threshold=5)
    assert closed.state == "closed" and closed.failures == 0
    assert (await limits.breaker_acquire(key, recovery_timeout=30)).allowed


async def test_failed_probe_reopens_and_a_lost_probe_frees_its_slot() -> None:
    clock = FakeClock()
    limits = InMemoryLimits(clock=clock)
    key = circuit_key("m")
    await limits.breaker_record(key, success=False, failure_threshold=1)
    clock.advance(10)
    assert (await limits.breaker_acquire(key, recovery_timeout=10)).allowed
    reopened = await limits.breaker_record(key, success=False, failure_threshold=1)
    assert reopened.state == "open" and reopened.opened_at == clock.now
    assert not (await limits.breaker_acquire(key, recovery_timeout=10)).allowed
    clock.advance(10)
    assert (await limits.breaker_acquire(key, recovery_timeout=10)).allowed  # probe never reports back
    assert not (await limits.breaker_acquire(key, recovery_timeout=10)).allowed
    clock.advance(10)
    assert (await limits.breaker_acquire(key, recovery_timeout=10)).allowed  # its slot is freed


async def test_success_resets_the_consecutive_failure_count() -> None:
    limits = InMemoryLimits(clock=FakeClock())
    for _ in range(3):
        await limits.breaker_record(circuit_key("m"), success=False, failure_threshold=4)
    await limits.breaker_record(circuit_key("m"), success=True, failure_threshold=4)
    for _ in range(3):
        state = await limits.breaker_record(circuit_key("m"), success=False, failure_threshold=4)
    assert state.state == "closed"
    assert (await limits.breaker_states())[circuit_key("m")].failures == 3
