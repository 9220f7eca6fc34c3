"""The CachePort contract on RedisCache against a real Redis-protocol server (Valkey)."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from motadata_ai.adapters.redis import RedisCache
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.ports.cache import CachePort, CacheUnavailable
from motadata_ai.testing.contracts.cache import SECRET, CacheServerContract
from motadata_ai.testing.servers.redis import ValkeyServer

pytestmark = pytest.mark.redis


class TestRedisCache(CacheServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def make_cache(self) -> CachePort:
        return RedisCache.from_url(self.url, namespace=f"test-{uuid.uuid4().hex}")

    async def make_unreachable_cache(self) -> CachePort | None:
        return RedisCache.from_url(f"redis://app:{SECRET}@127.0.0.1:1/0", connect_timeout=1.0, retries=0)


class TestRedisCacheSpecifics:
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, redis_url: str) -> None:
        self.url = redis_url

    async def test_namespaces_isolate_caches_on_one_server(self) -> None:
        one = RedisCache.from_url(self.url, namespace=f"one-{uuid.uuid4().hex}")
        two = RedisCache.from_url(self.url, namespace=f"two-{uuid.uuid4().hex}")
        try:
            await one.set("tenant-a:k", b"1")
            await two.set("tenant-a:k", b"2")
            assert await one.delete_prefix("tenant-a:") == 1
            assert await one.get("tenant-a:k") is None
            assert await two.get("tenant-a:k") == b"2"
        finally:
            await one.aclose()
            await two.aclose()

    async def test_client_and_key_give_other_adapters_the_same_namespace(self) -> None:
        cache = RedisCache.from_url(self.url, namespace=f"ns-{uuid.uuid4().hex}")
        try:
            await cache.client.set(cache.key("tenant-a:raw"), b"from-client")
            assert await cache.get("tenant-a:raw") == b"from-client"
            assert cache.key("tenant-a:raw") == f"{cache.namespace}:tenant-a:raw"
            assert await cache.delete_prefix("tenant-a:") == 1
        finally:
            await cache.aclose()

    async def test_translate_errors_maps_client_failures(self) -> None:
        cache = RedisCache.from_url(f"redis://app:{SECRET}@127.0.0.1:1/0", connect_timeout=1.0, retries=0)
        try:
            with pytest.raises(CacheUnavailable) as caught:
                async with cache.translate_errors("custom", "tenant-a:bucket"):
                    await cache.client.get(cache.key("tenant-a:bucket"))
            assert caught.value.operation == "custom"
            assert SECRET not in str(caught.value)
        finally:
            await cache.aclose()

    async def test_ttl_is_stored_on_the_server(self) -> None:
        cache = RedisCache.from_url(self.url, namespace=f"ttl-{uuid.uuid4().hex}")
        try:
            await cache.incr("tenant-a:w", ttl=30)
            await cache.incr("tenant-a:w", ttl=3000)
            pttl = await cache.client.pttl(cache.key("tenant-a:w"))
            assert 0 < pttl <= 30_000
        finally:
            await cache.aclose()

    async def test_stopped_server_gives_cache_unavailable_and_recovers_after_restart(
        self, redis_server_factory: object
    ) -> None:
        server: ValkeyServer = redis_server_factory()  # type: ignore[operator]
        cache = RedisCache.from_url(server.url, namespace="restart", connect_timeout=1.0, retries=0)
        try:
            await cache.set("tenant-a:k", b"v")
            server.stop()
            with pytest.raises(CacheUnavailable) as caught:
                await cache.get("tenant-a:k")
            assert str(server.port) in caught.value.address
            server.start()
            await cache.set("tenant-a:k", b"again")
            assert await cache.get("tenant-a:k") == b"again"
        finally:
            await cache.aclose()

    def test_bad_url_and_namespace_are_configuration_errors(self) -> None:
        with pytest.raises(ConfigurationError):
            RedisCache.from_url("ftp://nowhere")
        with pytest.raises(ValidationError):
            RedisCache.from_url(self.url, namespace="bad*ns")
