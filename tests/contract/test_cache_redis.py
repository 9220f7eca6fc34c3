"""The CachePort contract on RedisCache against a real Redis-protocol server (Valkey)."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio
from redis.crc import key_slot

from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.limits import BucketSpec
from motadata_ai.ports.cache import CachePort, CacheUnavailable
from motadata_ai.testing.contracts.cache import SECRET, CacheServerContract, key
from motadata_ai.testing.servers.redis import ValkeyServer

# The live server's commands get a longer timeout than the adapters' 0.25 s default: this suite
# runs on a loaded 2-core machine, and the short default is exercised by tests/faults.
LIVE_TIMEOUT = 2.0

pytestmark = pytest.mark.redis


class TestRedisCache(CacheServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def make_cache(self) -> CachePort:
        return RedisCache.from_url(self.url, namespace=f"test-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)

    async def make_unreachable_cache(self) -> CachePort | None:
        return RedisCache.from_url(f"redis://app:{SECRET}@127.0.0.1:1/0", connect_timeout=1.0, retries=0)


class TestRedisClusterCache(CacheServerContract):
    """The same contract on a 3-master Valkey Cluster (``redis+cluster://`` URL)."""

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_cluster_url: str) -> None:
        self.url = redis_cluster_url

    async def make_cache(self) -> CachePort:
        return RedisCache.from_url(self.url, namespace=f"test-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)

    async def make_unreachable_cache(self) -> CachePort | None:
        return RedisCache.from_url(
            f"redis+cluster://app:{SECRET}@127.0.0.1:1,127.0.0.1:2", connect_timeout=1.0, retries=0
        )


class TestRedisCacheSpecifics:
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def test_namespaces_isolate_caches_on_one_server(self) -> None:
        one = RedisCache.from_url(self.url, namespace=f"one-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        two = RedisCache.from_url(self.url, namespace=f"two-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        try:
            await one.set(key("k"), b"1")
            await two.set(key("k"), b"2")
            assert await one.delete_tenant("tenant-a") == 1
            assert await one.get(key("k")) is None
            assert await two.get(key("k")) == b"2"
        finally:
            await one.aclose()
            await two.aclose()

    async def test_client_and_key_give_other_adapters_the_same_namespace(self) -> None:
        cache = RedisCache.from_url(self.url, namespace=f"ns-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        try:
            await cache.client.set(cache.key(key("raw")), b"from-client")
            assert await cache.get(key("raw")) == b"from-client"
            assert cache.key(key("raw")) == f"{cache.namespace}:{{tenant-a}}:app:raw"
            assert await cache.delete_tenant("tenant-a") == 1
        finally:
            await cache.aclose()

    async def test_translate_errors_maps_client_failures(self) -> None:
        cache = RedisCache.from_url(f"redis://app:{SECRET}@127.0.0.1:1/0", connect_timeout=1.0, retries=0)
        try:
            with pytest.raises(CacheUnavailable) as caught:
                async with cache.translate_errors("custom", key("bucket")):
                    await cache.client.get(cache.key(key("bucket")))
            assert caught.value.operation == "custom"
            assert SECRET not in str(caught.value)
        finally:
            await cache.aclose()

    async def test_ttl_is_stored_on_the_server(self) -> None:
        cache = RedisCache.from_url(self.url, namespace=f"ttl-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        try:
            await cache.incr(key("w"), ttl=30)
            await cache.incr(key("w"), ttl=3000)
            pttl = await cache.client.pttl(cache.key(key("w")))
            assert 0 < pttl <= 30_000
        finally:
            await cache.aclose()

    async def test_stopped_server_gives_cache_unavailable_and_recovers_after_restart(
        self, redis_server_factory: object
    ) -> None:
        server: ValkeyServer = redis_server_factory()  # type: ignore[operator]
        cache = RedisCache.from_url(server.url, namespace="restart", connect_timeout=1.0, retries=0)
        try:
            await cache.set(key("k"), b"v")
            server.stop()
            with pytest.raises(CacheUnavailable) as caught:
                await cache.get(key("k"))
            assert str(server.port) in caught.value.address
            server.start()
            await cache.set(key("k"), b"again")
            assert await cache.get(key("k")) == b"again"
        finally:
            await cache.aclose()

    def test_bad_url_and_namespace_are_configuration_errors(self) -> None:
        with pytest.raises(ConfigurationError):
            RedisCache.from_url("ftp://nowhere")
        for namespace in ("bad*ns", "{tag}", "a:b", "a b", "ns\n", ""):
            with pytest.raises(ValidationError):
                RedisCache.from_url(self.url, namespace=namespace, timeout=LIVE_TIMEOUT)

    async def test_a_tenants_keys_share_one_cluster_hash_tag(self) -> None:
        cache = RedisCache.from_url(self.url, namespace=f"tag-{uuid.uuid4().hex}", timeout=LIVE_TIMEOUT)
        try:
            names = [
                cache.key(key("x", namespace="gw")),
                cache.key(key("y", "z", namespace="ml")),
                cache.key(key("req", namespace="rl")),
            ]
            tags = {name[name.index("{") + 1 : name.index("}")] for name in names}
            assert tags == {"tenant-a"}
            assert len({key_slot(name.encode()) for name in names}) == 1
        finally:
            await cache.aclose()

    async def test_cache_deletions_never_touch_rate_limit_state_of_other_tenants(self) -> None:
        # Observed: on Redis, ``cache.delete_prefix("bkt:")`` deleted every tenant's buckets.
        namespace = f"share-{uuid.uuid4().hex}"
        cache = RedisCache.from_url(self.url, namespace=namespace, timeout=LIVE_TIMEOUT)
        limits = RedisLimits(cache.client, address=self.url, namespace=namespace)
        try:
            a = [BucketSpec(keys.tenant_key("a", keys.RATE_LIMITS, "req"), 1, refill_per_second=0.001)]
            b = [BucketSpec(keys.tenant_key("bkt", keys.RATE_LIMITS, "req"), 1, refill_per_second=0.001)]
            assert (await limits.take(a)).allowed and (await limits.take(b)).allowed
            with pytest.raises(ValidationError):
                await cache.delete_tenant("bkt:")
            assert await cache.delete_tenant("bkt", namespace=keys.GATEWAY) == 0
            assert await cache.delete_tenant("a", namespace=keys.GATEWAY) == 0
            assert not (await limits.take(a)).allowed and not (await limits.take(b)).allowed
            assert await cache.delete_tenant("bkt") == 1  # erasing tenant bkt resets its bucket only
            assert (await limits.take(b)).allowed and not (await limits.take(a)).allowed
        finally:
            await cache.aclose()
