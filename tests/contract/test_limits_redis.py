"""The LimitsPort contract on RedisLimits against a real Redis-protocol server (Valkey)."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.values.limits import BucketSpec
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.testing.contracts.limits import SECRET, LimitsServerContract, bucket

# The live server's commands get a longer timeout than the adapters' 0.25 s default: this suite
# runs on a loaded 2-core machine, and the short default is exercised by tests/faults.
LIVE_TIMEOUT = 2.0

pytestmark = pytest.mark.redis


class TestRedisLimits(LimitsServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def make_limits(self) -> LimitsPort:
        return RedisLimits.from_url(self.url, namespace=f"test-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)

    async def make_unreachable_limits(self) -> LimitsPort | None:
        return RedisLimits.from_url(f"redis://app:{SECRET}@127.0.0.1:1/0", connect_timeout=0.5)


class TestRedisClusterLimits(LimitsServerContract):
    """The same contract on a 3-master Valkey Cluster (``redis+cluster://`` URL)."""

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_cluster_url: str) -> None:
        self.url = redis_cluster_url

    async def make_limits(self) -> LimitsPort:
        return RedisLimits.from_url(self.url, namespace=f"test-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)

    async def make_unreachable_limits(self) -> LimitsPort | None:
        return RedisLimits.from_url(f"redis+cluster://app:{SECRET}@127.0.0.1:1", connect_timeout=0.5)


class TestRedisLimitsSharing:
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def test_two_clients_share_one_bucket(self) -> None:
        namespace = f"test-{uuid.uuid4().hex}"
        one = RedisLimits.from_url(self.url, namespace=namespace, timeout=LIVE_TIMEOUT)
        two = RedisLimits.from_url(self.url, namespace=namespace, timeout=LIVE_TIMEOUT)
        try:
            spec = [BucketSpec(bucket("tenant-a", "req"), capacity=4, refill_per_second=0.001)]
            allowed = [(await store.take(spec)).allowed for store in (one, two, one, two, one, two)]
            assert allowed == [True, True, True, True, False, False]
        finally:
            await one.aclose()
            await two.aclose()

    async def test_shares_the_pool_of_a_redis_cache_without_closing_it(self) -> None:
        cache = RedisCache.from_url(self.url, namespace=f"test-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        limits = RedisLimits(cache.client, address=self.url, namespace=cache.namespace)
        try:
            assert (await limits.take([BucketSpec(bucket("tenant-a", "req"), 1, 1.0)])).allowed
            await limits.aclose()
            assert await cache.ping()
        finally:
            await cache.aclose()
