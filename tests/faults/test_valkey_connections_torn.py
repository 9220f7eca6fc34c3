"""Connections torn down under commands in flight raise SDK errors only.

During a failover redis-py closes a node's connections while other commands are still using them
(it drops every connection of a node it saw fail). A command caught half-way then fails inside the
client with a bare ``AttributeError`` or ``TypeError`` (its stream writer is already ``None``), not
a ``redis`` error. Here that race is made on purpose against a real server, on one Valkey and on a
3-master cluster: many cache and limits calls run while another task keeps closing every
connection of the client. Invariants, not timings:

* every failure a caller sees is an SDK error (``CacheUnavailable``/``LimitsUnavailable`` or the
  matching failure type), never an exception of the client library;
* once the tear-downs stop, the same adapters answer again without being rebuilt.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from redis.asyncio.cluster import RedisCluster

from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.domain.values.limits import BucketSpec

pytestmark = [pytest.mark.faults, pytest.mark.redis]

WORKERS = 16
TEAR_DOWNS = 150


async def _close_every_connection(cache: RedisCache) -> None:
    client = cache.client
    if isinstance(client, RedisCluster):
        for node in client.get_nodes():
            await node.disconnect()
    else:
        await client.connection_pool.disconnect(inuse_connections=True)


async def _calls(cache: RedisCache, limits: RedisLimits, worker: int, stop: asyncio.Event,
                 outcomes: Counter[str], foreign: list[BaseException]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        tenant = f"t{(worker + n) % 8}"
        key = keys.tenant_key(tenant, keys.GATEWAY, f"k{n % 20}")
        try:
            await cache.set(key, b"v", ttl=30)
            await cache.get(key)
            await limits.take([BucketSpec(keys.tenant_key(tenant, keys.RATE_LIMITS, "b"), 10**9, 10**6)])
        except MotadataError:
            outcomes["sdk error"] += 1
        except Exception as error:  # the invariant: nothing else may reach a caller
            foreign.append(error)
        else:
            outcomes["ok"] += 1


async def _torn_down_under_load(url: str) -> None:
    cache = RedisCache.from_url(url, namespace=f"torn-{uuid.uuid4().hex[:8]}", timeout=2.0, retries=0)
    limits = RedisLimits(cache.client, address=url, namespace=cache.namespace)
    outcomes: Counter[str] = Counter()
    foreign: list[BaseException] = []
    stop = asyncio.Event()
    workers = [asyncio.create_task(_calls(cache, limits, w, stop, outcomes, foreign)) for w in range(WORKERS)]
    try:
        for _ in range(TEAR_DOWNS):
            await asyncio.sleep(0.002)
            await _close_every_connection(cache)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    try:
        assert foreign == [], [repr(e) for e in foreign[:3]]
        assert outcomes["ok"] > 0
        probe = keys.tenant_key("t0", keys.GATEWAY, "after")
        await cache.set(probe, b"back", ttl=30)
        assert await cache.get(probe) == b"back"
    finally:
        await cache.aclose()


async def test_a_torn_connection_on_one_server_raises_sdk_errors_only(redis_url: str) -> None:
    await _torn_down_under_load(redis_url)


async def test_a_torn_connection_on_a_cluster_raises_sdk_errors_only(redis_cluster_url: str) -> None:
    await _torn_down_under_load(redis_cluster_url)
