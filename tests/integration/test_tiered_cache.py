"""Two SDK instances, each with its own L1, sharing one L2 (real Valkey, alone and clustered).

* an entry one instance wrote is an L2 hit for the other, then an L1 hit there;
* a change by one instance (set, delete, pattern, tenant erase) reaches the other's L1: it never
  serves the old value once the broadcast has arrived (long before the L1 TTL);
* pattern invalidation stays inside one tenant and one namespace; hit rates per tier.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.tiered import RedisInvalidations, TieredCache
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError

pytestmark = pytest.mark.redis

L1_TTL = 60.0  # far longer than the test: only the broadcast can make B see a change


def gw(tenant: str, *segments: str) -> str:
    return keys.tenant_key(tenant, keys.GATEWAY, *segments)


@pytest_asyncio.fixture(params=["redis_url", "redis_cluster_url"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[TieredCache, TieredCache]]:
    url = request.getfixturevalue(request.param)
    namespace = f"pair-{uuid.uuid4().hex[:8]}"
    made = []
    for _ in range(2):
        l2 = RedisCache.from_url(url, namespace=namespace, timeout=2.0)
        made.append(
            TieredCache(l2, l1=InMemoryCache(max_entries=1000), l1_ttl=L1_TTL, channel=RedisInvalidations(l2))
        )
    for cache in made:
        await cache.start()
    yield made[0], made[1]
    for cache in made:
        await cache.aclose()


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.02)


async def test_a_write_of_one_instance_is_an_l2_then_l1_hit_for_the_other(
    pair: tuple[TieredCache, TieredCache],
) -> None:
    a, b = pair
    await a.set(gw("acme", "chat", "q1"), b"answer 1")
    assert await b.get(gw("acme", "chat", "q1")) == b"answer 1"
    assert await b.get(gw("acme", "chat", "q1")) == b"answer 1"
    assert await b.get(gw("acme", "chat", "missing")) is None
    assert (b.stats.l1_hits, b.stats.l2_hits, b.stats.misses) == (1, 1, 1)
    assert b.stats.rates() == {"l1_hit_rate": 1 / 3, "l2_hit_rate": 0.5, "hit_rate": 2 / 3}


async def test_changes_reach_the_other_instances_l1(pair: tuple[TieredCache, TieredCache]) -> None:
    a, b = pair
    key = gw("acme", "chat", "q2")
    await a.set(key, b"old")
    assert await b.get(key) == b"old"
    assert await b.l1.get(key) == b"old"  # B holds it in L1 now
    await a.set(key, b"new")

    async def b_sees(value: bytes | None) -> bool:
        return await b.get(key) == value

    await eventually(lambda: b_sees(b"new"), "B seeing A's new value")
    await a.delete(key)
    await eventually(lambda: b_sees(None), "B seeing A's delete")
    await a.set(key, b"again")
    assert await b.get(key) == b"again"
    await a.delete_tenant("acme")
    await eventually(lambda: b_sees(None), "B seeing A's tenant erase")


async def test_pattern_invalidation_stays_in_one_tenant_and_namespace(
    pair: tuple[TieredCache, TieredCache],
) -> None:
    a, b = pair
    entries = {
        gw("acme", "chat", "gpt", "1"): b"1",
        gw("acme", "chat", "gpt", "2"): b"2",
        gw("acme", "embed", "gpt", "1"): b"e",
        gw("acme.eu", "chat", "gpt", "1"): b"eu",
        keys.tenant_key("acme", keys.ML, "chat", "gpt"): b"ml",
    }
    for key, value in entries.items():
        await a.set(key, value)
        assert await b.get(key) == value  # now in B's L1 too
    assert await a.delete_matching("acme", "chat:gpt:*", namespace=keys.GATEWAY) == 2
    gone = [gw("acme", "chat", "gpt", "1"), gw("acme", "chat", "gpt", "2")]

    async def b_dropped() -> bool:
        return [await b.l1.get(k) for k in gone] == [None, None]

    await eventually(b_dropped, "B dropping the matching keys from L1")
    for key, value in entries.items():
        expected = None if key in gone else value
        assert await a.get(key) == expected and await b.get(key) == expected
    for bad in ("chat:[ab]*", "}:*", "chat *", "", "a\\b"):
        with pytest.raises(ValidationError):
            await a.delete_matching("acme", bad, namespace=keys.GATEWAY)
