"""The LeasePort contract on RedisLeases against real Valkey: one server and a 3-master cluster."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.leases import RedisLeases
from motadata_ai.ports.leases import LeasePort
from motadata_ai.testing.contracts.leases import SECRET, LeaseServerContract, request_key

LIVE_TIMEOUT = 2.0  # a loaded 2-core machine; the short default is exercised by tests/faults

pytestmark = pytest.mark.redis


class _OnServer(LeaseServerContract):
    url: str

    async def make_leases(self) -> LeasePort:
        self.namespace = f"test-{uuid.uuid4().hex}"
        return RedisLeases.from_url(self.url, namespace=self.namespace, timeout=LIVE_TIMEOUT)

    async def make_other(self, first: LeasePort) -> LeasePort:
        return RedisLeases.from_url(self.url, namespace=self.namespace, timeout=LIVE_TIMEOUT)


class TestRedisLeases(_OnServer):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def make_unreachable_leases(self) -> LeasePort:
        return RedisLeases.from_url(f"redis://app:{SECRET}@127.0.0.1:1/0", timeout=0.5)


class TestRedisClusterLeases(_OnServer):
    """The same contract on a 3-master Valkey Cluster (``redis+cluster://`` URL)."""

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_cluster_url: str) -> None:
        self.url = redis_cluster_url

    async def make_unreachable_leases(self) -> LeasePort:
        return RedisLeases.from_url(f"redis+cluster://app:{SECRET}@127.0.0.1:1", timeout=0.5)


class TestRedisLeasesOnTheCachePool:
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def test_shares_the_pool_of_a_redis_cache_without_closing_it_and_is_erased_with_the_tenant(
        self,
    ) -> None:
        cache = RedisCache.from_url(self.url, namespace=f"test-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        leases = RedisLeases(cache.client, address=self.url, namespace=cache.namespace)
        try:
            key = request_key("tenant-a")
            assert await leases.acquire(key, owner="a", ttl=5)
            await leases.release(key, owner="a", result=b"answer", result_ttl=60)
            await leases.aclose()
            assert await cache.ping()
            assert await cache.delete_tenant("tenant-a", namespace="gw") == 1  # the handed-over answer
            assert await leases.result(key) is None
        finally:
            await cache.aclose()
