"""The CachePort contract on InMemoryCache (fake clock), plus its LRU bounds."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.cache import CachePort
from motadata_ai.testing.contracts.cache import CacheContract, key


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestInMemoryCache(CacheContract):
    async def make_cache(self) -> CachePort:
        self.clock = FakeClock()
        return InMemoryCache(clock=self.clock)

    async def wait(self, seconds: float) -> None:
        self.clock.now += seconds


class TestInMemoryCacheBounds:
    async def test_least_recently_used_entry_is_evicted_at_max_entries(self) -> None:
        cache = InMemoryCache(max_entries=3)
        for name in (key("a"), key("b"), key("c")):
            await cache.set(name, b"v")
        assert await cache.get(key("a")) == b"v"  # a is now the most recently used
        await cache.set(key("d"), b"v")
        assert await cache.get(key("b")) is None
        assert [await cache.get(k) for k in (key("a"), key("c"), key("d"))] == [b"v", b"v", b"v"]
        assert len(cache) == 3 and cache.evictions == 1

    async def test_bytes_bound_evicts_until_it_fits(self) -> None:
        cache = InMemoryCache(max_bytes=1000)
        for i in range(10):
            await cache.set(key(str(i)), b"x" * 200)
        assert cache.size_bytes <= 1000
        assert await cache.get(key("9")) == b"x" * 200
        assert await cache.get(key("0")) is None
        assert cache.evictions >= 6

    async def test_entry_larger_than_the_cache_is_rejected_and_evicts_nothing(self) -> None:
        cache = InMemoryCache(max_bytes=500)
        await cache.set(key("small"), b"s")
        with pytest.raises(ValidationError):
            await cache.set(key("huge"), b"x" * 1000)
        assert await cache.get(key("small")) == b"s"
        assert await cache.get(key("huge")) is None

    async def test_expired_entries_go_before_live_ones(self) -> None:
        clock = FakeClock()
        cache = InMemoryCache(max_entries=2, clock=clock)
        await cache.set(key("old"), b"v")
        await cache.set(key("short"), b"v", ttl=1)
        clock.now += 2
        await cache.set(key("new"), b"v")
        assert await cache.get(key("old")) == b"v"
        assert await cache.get(key("new")) == b"v"
        assert cache.evictions == 0

    async def test_counter_growth_is_accounted(self) -> None:
        cache = InMemoryCache(max_entries=2)
        await cache.incr(key("n"))
        await cache.incr(key("m"))
        await cache.incr(key("n"))
        await cache.incr(key("o"))  # evicts m, the least recently used
        assert await cache.get(key("m")) is None
        assert await cache.get(key("n")) == b"2"

    def test_bounds_must_be_positive(self) -> None:
        with pytest.raises(ValidationError):
            InMemoryCache(max_entries=0)
        with pytest.raises(ValidationError):
            InMemoryCache(max_bytes=0)
