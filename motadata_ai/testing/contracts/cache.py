"""The CachePort contract: one suite every cache adapter must pass.

Subclass :class:`CacheContract` in a module pytest collects (its name must start with ``Test``)
and implement :meth:`~CacheContract.make_cache` to return a fresh, empty cache. Override
:meth:`~CacheServerContract.make_unreachable_cache` (adapters behind a server subclass
:class:`CacheServerContract`) to return a cache pointed at a server that does not answer, with the
password ``s3cret`` in its URL, and
:meth:`~CacheContract.wait` when the cache runs on a fake clock::

    class TestMyCache(CacheContract):
        async def make_cache(self) -> CachePort:
            return MyCache(url=..., namespace=f"test-{uuid.uuid4().hex}")

Keys in the suite start with the tenant (``tenant-a:...``), as callers build them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.cache import CacheError, CachePort, CacheUnavailable

__all__ = ["SECRET", "CacheContract", "CacheServerContract"]

SECRET = "s3cret"


class CacheContract:
    """Behaviour every :class:`CachePort` adapter shares; subclasses provide the caches."""

    ttl = 0.4
    """A TTL short enough to wait out (seconds); :meth:`wait` waits ``2 * ttl`` past it."""

    async def make_cache(self) -> CachePort:
        """A fresh, empty cache."""
        raise NotImplementedError

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass for the cache (a fake clock advances it instead)."""
        await asyncio.sleep(seconds)

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _caches(self) -> AsyncIterator[None]:
        self._made: list[CachePort] = []
        yield
        for cache in self._made:
            await cache.aclose()

    async def cache(self) -> CachePort:
        """A fresh cache, closed after the test."""
        made = await self.make_cache()
        self._made.append(made)
        return made

    # -- basic values ----------------------------------------------------------------------------

    async def test_starts_empty_and_get_of_missing_key_is_none(self) -> None:
        cache = await self.cache()
        assert await cache.get("tenant-a:missing") is None
        assert await cache.delete_prefix("tenant-a:") == 0

    async def test_set_then_get_round_trips_bytes(self) -> None:
        cache = await self.cache()
        value = bytes(range(256)) + "ünïcødé".encode()
        await cache.set("tenant-a:blob", value)
        assert await cache.get("tenant-a:blob") == value

    async def test_set_overwrites(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:k", b"one")
        await cache.set("tenant-a:k", b"two")
        assert await cache.get("tenant-a:k") == b"two"

    async def test_empty_value_is_a_value_not_a_miss(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:empty", b"")
        assert await cache.get("tenant-a:empty") == b""

    async def test_delete_reports_whether_the_key_existed(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:k", b"v")
        assert await cache.delete("tenant-a:k") is True
        assert await cache.get("tenant-a:k") is None
        assert await cache.delete("tenant-a:k") is False

    async def test_ping(self) -> None:
        cache = await self.cache()
        assert await cache.ping() is True

    # -- TTL -------------------------------------------------------------------------------------

    async def test_value_expires_after_its_ttl(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:short", b"v", ttl=self.ttl)
        await cache.set("tenant-a:long", b"v")
        assert await cache.get("tenant-a:short") == b"v"
        await self.wait(self.ttl * 2.5)
        assert await cache.get("tenant-a:short") is None
        assert await cache.get("tenant-a:long") == b"v"
        assert await cache.delete("tenant-a:short") is False

    async def test_set_without_ttl_clears_an_earlier_ttl(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:k", b"1", ttl=self.ttl)
        await cache.set("tenant-a:k", b"2")
        await self.wait(self.ttl * 2.5)
        assert await cache.get("tenant-a:k") == b"2"

    # -- prefix deletion and tenant isolation ----------------------------------------------------

    async def test_delete_prefix_removes_exactly_the_prefixed_keys(self) -> None:
        cache = await self.cache()
        for i in range(25):
            await cache.set(f"tenant-a:conv:{i}", b"x")
        await cache.set("tenant-a:other", b"keep")
        await cache.set("tenant-ab:conv:1", b"keep")
        await cache.set("tenant-b:conv:1", b"keep")
        assert await cache.delete_prefix("tenant-a:conv:") == 25
        assert await cache.get("tenant-a:conv:3") is None
        assert await cache.get("tenant-a:other") == b"keep"
        assert await cache.get("tenant-ab:conv:1") == b"keep"
        assert await cache.get("tenant-b:conv:1") == b"keep"

    async def test_tenant_prefix_deletion_never_touches_another_tenant(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:x", b"a")
        await cache.set("tenant-b:x", b"b")
        await cache.incr("tenant-b:counter")
        assert await cache.delete_prefix("tenant-a:") == 1
        assert await cache.get("tenant-a:x") is None
        assert await cache.get("tenant-b:x") == b"b"
        assert await cache.get("tenant-b:counter") == b"1"

    async def test_prefix_with_glob_characters_is_literal(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:q*", b"1")
        await cache.set("tenant-a:q?x", b"2")
        await cache.set("tenant-a:qq", b"3")
        await cache.set("tenant-a:[q]", b"4")
        assert await cache.delete_prefix("tenant-a:q*") == 1
        assert await cache.delete_prefix("tenant-a:[") == 1
        assert await cache.get("tenant-a:q?x") == b"2"
        assert await cache.get("tenant-a:qq") == b"3"

    # -- counters --------------------------------------------------------------------------------

    async def test_incr_creates_at_zero_and_adds(self) -> None:
        cache = await self.cache()
        assert await cache.incr("tenant-a:n") == 1
        assert await cache.incr("tenant-a:n", amount=5) == 6
        assert await cache.incr("tenant-a:n", amount=-2) == 4
        assert await cache.get("tenant-a:n") == b"4"

    async def test_incr_continues_from_a_set_integer(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:n", b"41")
        assert await cache.incr("tenant-a:n") == 42

    async def test_incr_ttl_is_set_only_when_the_counter_is_created(self) -> None:
        cache = await self.cache()
        assert await cache.incr("tenant-a:window", ttl=self.ttl) == 1
        await self.wait(self.ttl * 0.5)
        assert await cache.incr("tenant-a:window", ttl=self.ttl * 100) == 2
        await self.wait(self.ttl * 2)
        assert await cache.get("tenant-a:window") is None
        assert await cache.incr("tenant-a:window", ttl=self.ttl) == 1

    async def test_incr_without_ttl_never_expires(self) -> None:
        cache = await self.cache()
        await cache.incr("tenant-a:forever")
        await self.wait(self.ttl * 2.5)
        assert await cache.get("tenant-a:forever") == b"1"

    async def test_concurrent_incr_is_atomic(self) -> None:
        cache = await self.cache()
        results = await asyncio.gather(*(cache.incr("tenant-a:hits", ttl=60) for _ in range(200)))
        assert sorted(results) == list(range(1, 201))
        assert await cache.get("tenant-a:hits") == b"200"

    async def test_incr_of_a_non_integer_value_is_a_cache_error_and_keeps_the_value(self) -> None:
        cache = await self.cache()
        await cache.set("tenant-a:text", b"hello")
        with pytest.raises(CacheError):
            await cache.incr("tenant-a:text")
        assert await cache.get("tenant-a:text") == b"hello"

    # -- bad input -------------------------------------------------------------------------------

    @pytest.mark.parametrize("key", ["", None, 42, "x" * 5000])
    async def test_invalid_keys_are_rejected(self, key: object) -> None:
        cache = await self.cache()
        with pytest.raises(ValidationError):
            await cache.set(key, b"v")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.get(key)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.incr(key)  # type: ignore[arg-type]

    async def test_invalid_values_ttls_prefixes_and_amounts_are_rejected_and_write_nothing(self) -> None:
        cache = await self.cache()
        with pytest.raises(ValidationError):
            await cache.set("tenant-a:k", "not bytes")  # type: ignore[arg-type]
        for ttl in (0, -1, float("nan"), "10"):
            with pytest.raises(ValidationError):
                await cache.set("tenant-a:k", b"v", ttl=ttl)  # type: ignore[arg-type]
            with pytest.raises(ValidationError):
                await cache.incr("tenant-a:n", ttl=ttl)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.incr("tenant-a:n", amount=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.delete_prefix("")
        assert await cache.get("tenant-a:k") is None
        assert await cache.get("tenant-a:n") is None

    # -- errors ----------------------------------------------------------------------------------


class CacheServerContract(CacheContract):
    """The Cache contract plus error translation, for adapters behind a server."""

    async def make_unreachable_cache(self) -> CachePort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_cache_unavailable_with_masked_address(self) -> None:
        cache = await self.make_unreachable_cache()
        self._made.append(cache)
        for call in (cache.get("tenant-a:k"), cache.set("tenant-a:k", b"v"), cache.incr("tenant-a:n"),
                     cache.delete_prefix("tenant-a:"), cache.ping()):
            with pytest.raises(CacheUnavailable) as caught:
                await call
            error = caught.value
            assert isinstance(error.address, str) and "***" in error.address
            assert SECRET not in str(error) and SECRET not in error.address
