"""FallbackLimits and CircuitCache around a store that can be switched to failing: what goes to
the primary, what is answered locally, and what the circuit learns (the real-server behaviour is
in tests/faults/test_valkey_degraded.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.domain.gateway.circuit_cache import CacheBypassed, CircuitCache
from motadata_ai.domain.gateway.fallback_limits import UNAVAILABLE, FallbackLimits
from motadata_ai.domain.gateway.limits import LocalLimits, bucket_key, circuit_key
from motadata_ai.domain.gateway.store_circuit import StoreCircuit
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.limits import BucketSpec, LimitDecision
from motadata_ai.ports.cache import CacheUnavailable
from motadata_ai.ports.limits import LimitsUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Store(LocalLimits):
    """In-process limits standing in for a shared store that can be made to fail or hang."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.hang: asyncio.Event | None = None
        self.calls = 0

    async def take(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        self.calls += 1
        if self.hang is not None:
            await self.hang.wait()
        if self.down:
            raise LimitsUnavailable("limits server is unavailable", address="test")
        return await super().take(buckets, force=force)


def one_bucket(burst: float = 2) -> list[BucketSpec]:
    return [BucketSpec(bucket_key("acme", "req"), burst, 0.0)]


def decorated(policy: str = "local") -> tuple[FallbackLimits, Store, Clock]:
    clock = Clock()
    store = Store()
    limits = FallbackLimits(
        store,
        local=LocalLimits(clock=clock),
        policy=policy,  # type: ignore[arg-type]
        circuit=StoreCircuit(clock=clock, random=lambda: 0.5),
    )
    return limits, store, clock


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("local", [True, True, False]), ("allow", [True, True, True]), ("deny", [False, False, False])],
)
async def test_while_open_the_policy_answers_without_the_store(policy: str, expected: list[bool]) -> None:
    limits, store, _ = decorated(policy)
    store.down = True
    decisions = [await limits.take(one_bucket()) for _ in range(3)]
    assert [d.allowed for d in decisions] == expected
    assert store.calls == 1 and limits.circuit_state == "open"
    if policy == "deny":
        assert decisions[0].refused == (UNAVAILABLE,) and decisions[0].retry_after == pytest.approx(0.5)


async def test_breakers_go_local_while_open_and_back_to_the_store_after_a_probe() -> None:
    limits, store, clock = decorated()
    store.down = True
    await limits.take(one_bucket())
    await limits.breaker_record(circuit_key("m"), success=False, failure_threshold=1)
    assert (await limits.breaker_states())[circuit_key("m")].state == "open"  # the local circuit
    assert await store.breaker_states() == {}
    store.down = False
    clock.now += 1
    assert (await limits.take(one_bucket())).allowed  # the probe, on the store
    assert store.calls == 2 and limits.circuit_state == "closed"
    assert await limits.breaker_states() == {}  # the outage's local circuit is dropped


async def test_a_caller_mistake_goes_to_the_caller_and_leaves_the_circuit_closed() -> None:
    limits, _, _ = decorated()
    with pytest.raises(ValidationError):
        await limits.take([BucketSpec(keys.tenant_key("acme", "gw", "x"), 1.0, 1.0)])
    assert limits.circuit_state == "closed" and limits.counters.failures == 0


async def test_a_cancelled_probe_passes_the_turn_to_the_next_caller() -> None:
    limits, store, clock = decorated()
    store.down = True
    await limits.take(one_bucket())
    clock.now += 1
    store.down = False
    store.hang = asyncio.Event()
    probe = asyncio.create_task(limits.take(one_bucket()))
    await asyncio.sleep(0)
    assert limits.circuit_state == "half_open"
    assert (await limits.take(one_bucket())).allowed and store.calls == 2  # local meanwhile
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    store.hang = None
    assert (await limits.take(one_bucket())).allowed
    assert store.calls == 3 and limits.circuit_state == "closed"


async def test_ping_always_asks_the_store_and_closes_the_circuit_when_it_answers() -> None:
    limits, store, _ = decorated()
    store.down = True
    await limits.take(one_bucket())
    store.down = False
    assert await limits.ping() is True
    assert limits.circuit_state == "closed"


class DownCache(InMemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    async def get(self, key: str) -> bytes | None:
        self.calls += 1
        if self.down:
            raise CacheUnavailable("cache server is unavailable", address="test")
        return await super().get(key)


async def test_an_open_cache_circuit_raises_cache_bypassed_at_once() -> None:
    clock = Clock()
    inner = DownCache()
    cache = CircuitCache(inner, circuit=StoreCircuit(clock=clock, random=lambda: 0.5))
    key = keys.tenant_key("acme", "gw", "k")
    inner.down = True
    with pytest.raises(CacheUnavailable) as first:
        await cache.get(key)
    assert not isinstance(first.value, CacheBypassed)
    for _ in range(5):
        with pytest.raises(CacheBypassed) as bypassed:
            await cache.get(key)
    assert inner.calls == 1 and bypassed.value.retry_after == pytest.approx(0.5)
    inner.down = False
    clock.now += 1
    assert await cache.get(key) is None and cache.circuit_state == "closed" and inner.calls == 2


async def test_the_outage_state_is_dropped_when_a_shared_circuit_was_closed_by_the_cache() -> None:
    clock = Clock()
    circuit = StoreCircuit(clock=clock, random=lambda: 0.5)
    store = Store()
    limits = FallbackLimits(store, local=LocalLimits(clock=clock), circuit=circuit)
    store.down = True
    await limits.take(one_bucket())
    await limits.breaker_record(circuit_key("m"), success=False, failure_threshold=1)
    store.down = False
    circuit.close()  # the cache on the same server answered first
    assert (await limits.take(one_bucket())).allowed
    assert await limits.breaker_states() == {}
