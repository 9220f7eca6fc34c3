"""Which stores the gateway puts behind a circuit: only those that live outside the process (they
advertise ``remote``); an in-process cache or limits store is used as it is."""

from __future__ import annotations

from collections.abc import Sequence

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.limits import InMemoryLimits
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.tiered.cache import TieredCache
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.gateway.assembly import guarded_stores
from motadata_ai.domain.gateway.circuit_cache import CircuitCache
from motadata_ai.domain.gateway.fallback_limits import FallbackLimits
from motadata_ai.domain.gateway.limits import LocalLimits
from motadata_ai.domain.values.limits import BucketSpec, LimitDecision
from motadata_ai.ports.cache import CacheUnavailable
from motadata_ai.ports.limits import LimitsUnavailable

from .conftest import ask


class RemoteCache(InMemoryCache):
    """An in-memory cache standing in for a cache server: it says it is remote, and can be down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.gets = 0

    @property
    def remote(self) -> bool:
        return True

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        if self.down:
            raise CacheUnavailable("cache server is unavailable", address="test")
        return await super().get(key)


class RemoteLimits(LocalLimits):
    """In-process limits standing in for a limits server: remote, and can be down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.takes = 0

    @property
    def remote(self) -> bool:
        return True

    async def take(self, buckets: Sequence[BucketSpec], *, force: bool = False) -> LimitDecision:
        self.takes += 1
        if self.down:
            raise LimitsUnavailable("limits server is unavailable", address="test")
        return await super().take(buckets, force=force)


def gateway(cache: InMemoryCache, limits: LocalLimits) -> Gateway:
    return Gateway(
        llm=FunctionLLM(lambda request: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        config=GatewayConfig(default_model="test/model"),
        cache=cache,
        limits=limits,
        clock=lambda: 1000.0,  # time stands still: an open circuit stays open for the whole test
    )


def test_the_shipped_stores_say_where_they_live() -> None:
    assert InMemoryCache().remote is False
    assert InMemoryLimits().remote is False
    assert RemoteCache().remote is True
    assert TieredCache(InMemoryCache()).remote is False  # a tiered cache is where its L2 is
    assert TieredCache(RemoteCache()).remote is True


async def test_in_process_stores_are_used_without_a_circuit() -> None:
    gw = gateway(InMemoryCache(), InMemoryLimits())
    await gw.generate(ask("hello"), tenant_id="acme")
    health = await gw.health()
    assert health.stores == {}
    assert health.status == "ok" and health.cache is True and health.limits is True


def test_guarded_stores_leaves_in_process_stores_as_they_are() -> None:
    cache, limits = InMemoryCache(), InMemoryLimits()
    assert guarded_stores(cache, limits, clock=lambda: 0.0, policy="local") == (cache, limits)
    none_cache, local = guarded_stores(None, None, clock=lambda: 0.0, policy="local")
    assert none_cache is None and isinstance(local, LocalLimits) and not isinstance(local, FallbackLimits)


def test_guarded_stores_puts_remote_stores_behind_one_circuit_each_once() -> None:
    cache, limits = guarded_stores(RemoteCache(), RemoteLimits(), clock=lambda: 0.0, policy="deny")
    assert isinstance(cache, CircuitCache) and isinstance(limits, FallbackLimits)
    assert limits.policy == "deny"
    again = guarded_stores(cache, limits, clock=lambda: 0.0, policy="local")
    assert again[0] is cache and again[1] is limits


async def test_remote_stores_that_fail_are_left_alone_while_their_circuit_is_open() -> None:
    cache, limits = RemoteCache(), RemoteLimits()
    gw = gateway(cache, limits)
    await gw.generate(ask("first"), tenant_id="acme")
    assert (await gw.health()).stores == {"limits": "closed", "cache": "closed"}
    cache.down = limits.down = True
    gets, takes = cache.gets, limits.takes
    for index in range(3):
        response = await gw.generate(ask(f"while down {index}"), tenant_id="acme")
        assert response.text == "ok"
    assert cache.gets == gets + 1 and limits.takes == takes + 1  # one failure each, then no socket
    assert gw.stats.cache_errors >= 3 and gw.stats.limits_errors == 1
