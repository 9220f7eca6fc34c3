"""The CachePort contract on InMemoryCache (fake clock), plus its LRU bounds."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.cache import CachePort
from motadata_ai.testing.contracts.cache import CacheContract


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
        for key in ("t:a", "t:b", "t:c"):
            await cache.set(key, b"v")
        assert await cache.get("t:a") == b"v"  # a is now the most recently used
        await cache.set("t:d", b"v")
        assert await cache.get("t:b") is None
        assert [await cache.get(k) for k in ("t:a", "t:c", "t:d")] == [b"v", b"v", b"v"]
        assert len(cache) == 3 and cache.evictions == 1

    async def test_bytes_bound_evicts_until_it_fits(self) -> None:
        cache = InMemoryCache(max_bytes=1000)
        for i in range(10):
            await cache.set(f"t:{i}", b"x" * 200)
        assert cache.size_bytes <= 1000
        assert await cache.get("t:9") == b"x" * 200
        assert await cache.get("t:0") is None
        assert cache.evictions >= 6

    async def test_entry_larger_than_the_cache_is_rejected_and_evicts_nothing(self) -> None:
        cache = InMemoryCache(max_bytes=500)
        await cache.set("t:small", b"s")
        with pytest.raises(ValidationError):
            await cache.set("t:huge", b"x" * 1000)
        assert await cache.get("t:small") == b"s"
        assert await cache.get("t:huge") is None

    async def test_expired_entries_go_before_live_ones(self) -> None:
        clock = FakeClock()
        cache = InMemoryCache(max_entries=2, clock=clock)
        await cache.set("t:old", b"v")
        await cache.set("t:short", b"v", ttl=1)
        clock.now += 2
        await cache.set("t:new", b"v")
        assert await cache.get("t:old") == b"v"
        assert await cache.get("t:new") == b"v"
        assert cache.evictions == 0

    async def test_counter_growth_is_accounted(self) -> None:
        cache = InMemoryCache(max_entries=2)
        await cache.incr("t:n")
        await cache.incr("t:m")
        await cache.incr("t:n")
        await cache.incr("t:o")  # evicts m, the least recently used
        assert await cache.get("t:m") is None
        assert await cache.get("t:n") == b"2"

    def test_bounds_must_be_positive(self) -> None:
        with pytest.raises(ValidationError):
            InMemoryCache(max_entries=0)
        with pytest.raises(ValidationError):
            InMemoryCache(max_bytes=0)
