"""The CachePort contract on TieredCache (L1 in process, L2 on real Valkey, alone and clustered)."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.tiered import RedisInvalidations, TieredCache
from motadata_ai.ports.cache import CachePort
from motadata_ai.testing.contracts.cache import SECRET, CacheServerContract

LIVE_TIMEOUT = 2.0

pytestmark = pytest.mark.redis


class TestTieredCache(CacheServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def make_cache(self) -> CachePort:
        l2 = RedisCache.from_url(self.url, namespace=f"tier-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        return TieredCache(l2, l1=InMemoryCache(max_entries=100), l1_ttl=5.0, channel=RedisInvalidations(l2))

    async def make_unreachable_cache(self) -> CachePort | None:
        return TieredCache(
            RedisCache.from_url(f"redis://app:{SECRET}@127.0.0.1:1/0", connect_timeout=1.0, retries=0)
        )


class TestTieredCacheOnCluster(TestTieredCache):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_cluster_url: str) -> None:  # type: ignore[override]
        self.url = redis_cluster_url
