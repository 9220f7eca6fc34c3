"""A dead (kill -9) or frozen (SIGSTOP) Valkey costs the gateway one socket attempt per store, not
one per call: the cache and the limits each have their own circuit.

The gateway runs on a private ``valkey-server`` with the Redis cache and Redis limits as they are
(the gateway puts them behind their circuits). The adapters are wrapped in counters that forward
every call to the real adapter, so the test sees how often the gateway reached for the server.
The circuits run on a manual clock: while it stands still an open circuit never lets a probe
through, so the bound is exact and does not depend on how fast the machine is. The invariants:

* every call during the outage succeeds with the right answer (cache fails open, limits local);
* during the outage the gateway tries the server at most once per store, however many calls;
* health reports each store's circuit as ``open`` (status ``degraded``);
* once the server is back and the circuit's interval has passed, one probe closes the circuit
  and the server is used again: answers are stored on it and answered from it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.values.limits import BreakerDecision, BreakerState, BucketSpec, LimitDecision
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.testing.servers.redis import ValkeyServer

pytestmark = [pytest.mark.faults, pytest.mark.redis]

OUTAGE_CALLS = 200
WORKERS = 16


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


def answer(request: ChatRequest) -> str:
    return "answer to " + (request.messages[-1].content or "")


class ManualClock:
    """The gateway's clock: moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingCache(CachePort):
    """The real Redis cache, counting every call that reaches it."""

    def __init__(self, inner: RedisCache, calls: Counter[str]) -> None:
        self.inner = inner
        self.calls = calls

    async def get(self, key: str) -> bytes | None:
        self.calls["cache.get"] += 1
        return await self.inner.get(key)

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self.calls["cache.set"] += 1
        await self.inner.set(key, value, ttl=ttl)

    async def delete(self, key: str) -> bool:
        self.calls["cache.delete"] += 1
        return await self.inner.delete(key)

    async def delete_tenant(self, tenant_id: str, *, namespace: str | None = None) -> int:
        self.calls["cache.delete_tenant"] += 1
        return await self.inner.delete_tenant(tenant_id, namespace=namespace)

    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        self.calls["cache.incr"] += 1
        return await self.inner.incr(key, amount=amount, ttl=ttl)

    async def ping(self) -> bool:
        self.calls["cache.ping"] += 1
        return await self.inner.ping()


class CountingLimits(LimitsPort):
    """The real Redis limits, counting every call that reaches them."""

    def __init__(self, inner: RedisLimits, calls: Counter[str]) -> None:
        self.inner = inner
        self.calls = calls

    async def take(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        self.calls["limits.take"] += 1
        return await self.inner.take(buckets, force=force)

    async def breaker_acquire(
        self, key: str, *, recovery_timeout: float, half_open_max_calls: int = 1
    ) -> BreakerDecision:
        self.calls["limits.breaker_acquire"] += 1
        return await self.inner.breaker_acquire(
            key, recovery_timeout=recovery_timeout, half_open_max_calls=half_open_max_calls
        )

    async def breaker_record(self, key: str, *, success: bool, failure_threshold: int) -> BreakerState:
        self.calls["limits.breaker_record"] += 1
        return await self.inner.breaker_record(key, success=success, failure_threshold=failure_threshold)

    async def breaker_states(self) -> dict[str, BreakerState]:
        self.calls["limits.breaker_states"] += 1
        return await self.inner.breaker_states()

    async def reset(self, tenant_id: str | None = None) -> None:
        self.calls["limits.reset"] += 1
        await self.inner.reset(tenant_id)

    async def ping(self) -> bool:
        self.calls["limits.ping"] += 1
        return await self.inner.ping()


@dataclass
class Rig:
    server: ValkeyServer
    redis: RedisCache
    gateway: Gateway
    clock: ManualClock
    llm: FunctionLLM
    calls: Counter[str] = field(default_factory=Counter)

    def store_calls(self) -> int:
        """Calls that reached the adapters, health pings aside."""
        return sum(n for name, n in self.calls.items() if not name.endswith(".ping"))


@pytest_asyncio.fixture
async def rig(redis_server_factory: Callable[[], ValkeyServer]) -> AsyncIterator[Rig]:
    server = redis_server_factory()
    namespace = f"degraded-{uuid.uuid4().hex[:8]}"
    redis = RedisCache.from_url(server.url, namespace=namespace)  # the adapters' default timeouts
    calls: Counter[str] = Counter()
    clock = ManualClock()
    llm = FunctionLLM(answer)
    gateway = Gateway(
        llm=llm,
        embeddings=HashEmbeddings(),
        config=GatewayConfig(
            default_model="test/model",
            max_retries=0,
            requests_per_minute=10_000_000,
            burst_size=10_000_000,
            tokens_per_minute=10_000_000_000,
            limits_failure_policy="local",
        ),
        cache=CountingCache(redis, calls),
        limits=CountingLimits(RedisLimits(redis.client, address=server.url, namespace=namespace), calls),
        clock=clock,
    )
    made = Rig(server, redis, gateway, clock, llm, calls)
    yield made
    server.thaw()
    await redis.aclose()


async def _calls(rig: Rig, label: str, count: int) -> Counter[str]:
    """``count`` sequential calls (a few prompts repeated, most new): each answer checked."""
    outcome: Counter[str] = Counter()
    for n in range(count):
        prompt = f"{label} {n % 50}"
        response = await rig.gateway.generate(ask(prompt), tenant_id="acme")
        assert response.text == "answer to " + prompt
        outcome["cached" if response.cached else "answered"] += 1
    return outcome


async def _recovers(rig: Rig) -> None:
    """After the circuits' interval the server is probed, found again and used again."""
    rig.clock.advance(120)  # past the longest interval: the next call probes the server
    rig.calls.clear()
    first = await rig.gateway.generate(ask("after the outage"), tenant_id="acme")
    again = await rig.gateway.generate(ask("after the outage"), tenant_id="acme")
    assert not first.cached and again.cached  # stored on and answered from the server
    assert rig.calls["cache.get"] == 2 and rig.calls["cache.set"] == 1 and rig.calls["limits.take"] >= 2
    health = await rig.gateway.health()
    assert health.status == "ok" and health.cache is True and health.limits is True
    assert health.stores == {"limits": "closed", "cache": "closed"}


async def _warm_up(rig: Rig) -> None:
    before = await _calls(rig, "before", 60)
    assert before == Counter({"answered": 50, "cached": 10})  # the cache on Valkey answers
    assert rig.calls["cache.get"] == 60 and rig.calls["limits.take"] >= 60
    health = await rig.gateway.health()
    assert health.status == "ok" and health.stores == {"limits": "closed", "cache": "closed"}


async def _outage(rig: Rig) -> None:
    rig.calls.clear()
    during = await _calls(rig, "during", OUTAGE_CALLS)
    assert sum(during.values()) == OUTAGE_CALLS  # every call answered, none failed
    # the first call tries each store once, finds it gone, and opens its circuit; no other call
    # of the outage touches the socket (the clock stands still, so no probe is due)
    assert rig.store_calls() <= 2, rig.calls
    assert rig.gateway.stats.cache_errors > 0 and rig.gateway.stats.limits_errors > 0
    health = await rig.gateway.health()
    assert health.status == "degraded" and health.cache is False and health.limits is False
    assert health.stores == {"limits": "open", "cache": "open"}
    rig.clock.advance(0.2)  # still inside the first interval (0.5 s ± 20 %)
    rig.calls.clear()
    await _calls(rig, "still down", 20)
    assert rig.store_calls() == 0, rig.calls


async def test_a_killed_valkey_is_tried_once_per_store_then_left_alone_until_it_is_back(rig: Rig) -> None:
    await _warm_up(rig)
    rig.server.kill()
    await _outage(rig)
    rig.server.start()  # the same port, empty
    await _recovers(rig)


async def test_a_frozen_valkey_costs_one_short_timeout_per_store_then_nothing(rig: Rig) -> None:
    await _warm_up(rig)
    rig.server.freeze()  # SIGSTOP: connections accepted, nothing answered
    await _outage(rig)
    rig.server.thaw()
    await _recovers(rig)


async def test_a_failed_probe_keeps_the_store_alone_again(rig: Rig) -> None:
    await _warm_up(rig)
    rig.server.kill()
    rig.calls.clear()
    await _calls(rig, "first", 5)
    assert rig.store_calls() <= 2
    for _ in range(3):  # each time a probe is due it fails, and the store is left alone again
        rig.clock.advance(60)
        rig.calls.clear()
        await _calls(rig, "probe", 10)
        assert 1 <= rig.store_calls() <= 2, rig.calls  # one probe per store, the other calls local
    rig.server.start()
    await _recovers(rig)


async def test_under_concurrent_load_a_kill_costs_at_most_one_attempt_per_caller_and_store(rig: Rig) -> None:
    """16 callers: those already past a closed circuit when the server died each fail once on
    each store; after that nothing reaches the socket, however many calls follow."""
    done: Counter[str] = Counter()
    stop = asyncio.Event()
    reached = asyncio.Event()
    target = {"calls": 300}

    async def load(worker: int) -> None:
        n = 0
        while not stop.is_set():
            prompt = f"load {worker} {n % 20}"
            response = await rig.gateway.generate(ask(prompt), tenant_id="acme")
            assert response.text == "answer to " + prompt
            done["calls"] += 1
            if done["calls"] >= target["calls"]:
                reached.set()
            n += 1
            await asyncio.sleep(0)

    async def until(count: int) -> None:
        reached.clear()
        target["calls"] = count
        await asyncio.wait_for(reached.wait(), timeout=60)

    workers = [asyncio.create_task(load(w)) for w in range(WORKERS)]
    try:
        await until(300)
        assert rig.store_calls() >= 300  # the server served the load
        rig.server.kill()
        rig.calls.clear()
        await until(done["calls"] + OUTAGE_CALLS * 2)
        assert rig.store_calls() <= 2 * WORKERS, rig.calls
        rig.server.start()
    finally:
        stop.set()
        await asyncio.gather(*workers)
    await _recovers(rig)
