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

Keys in the suite follow the SDK's one key scheme (``keys.tenant_key(tenant, namespace, ...)``), as
every caller builds them; the collision tests use tenants whose ids are prefixes of each other
(``a``, ``a.b``, ``ab``) and tenants named like namespaces (``gw``, ``ml``, ``rl``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.cache import CacheError, CachePort, CacheUnavailable
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down
from motadata_ai.testing.names import BAD_TENANT_IDS

__all__ = ["SECRET", "CacheContract", "CacheServerContract"]

SECRET = "s3cret"
A = "tenant-a"
B = "tenant-b"


def key(*segments: str, tenant: str = A, namespace: str = "app") -> str:
    """A key of ``tenant`` in ``namespace`` (the suite's application namespace by default)."""
    return keys.tenant_key(tenant, namespace, *segments)


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
        assert await cache.get(key("missing")) is None
        assert await cache.delete_tenant(A) == 0

    async def test_set_then_get_round_trips_bytes(self) -> None:
        cache = await self.cache()
        value = bytes(range(256)) + "ünïcødé".encode()
        await cache.set(key("blob"), value)
        assert await cache.get(key("blob")) == value

    async def test_set_overwrites(self) -> None:
        cache = await self.cache()
        await cache.set(key("k"), b"one")
        await cache.set(key("k"), b"two")
        assert await cache.get(key("k")) == b"two"

    async def test_empty_value_is_a_value_not_a_miss(self) -> None:
        cache = await self.cache()
        await cache.set(key("empty"), b"")
        assert await cache.get(key("empty")) == b""

    async def test_delete_reports_whether_the_key_existed(self) -> None:
        cache = await self.cache()
        await cache.set(key("k"), b"v")
        assert await cache.delete(key("k")) is True
        assert await cache.get(key("k")) is None
        assert await cache.delete(key("k")) is False

    async def test_ping(self) -> None:
        cache = await self.cache()
        assert await cache.ping() is True

    # -- TTL -------------------------------------------------------------------------------------

    async def test_value_expires_after_its_ttl(self) -> None:
        cache = await self.cache()
        await cache.set(key("short"), b"v", ttl=self.ttl)
        await cache.set(key("long"), b"v")
        assert await cache.get(key("short")) == b"v"
        await self.wait(self.ttl * 2.5)
        assert await cache.get(key("short")) is None
        assert await cache.get(key("long")) == b"v"
        assert await cache.delete(key("short")) is False

    async def test_set_without_ttl_clears_an_earlier_ttl(self) -> None:
        cache = await self.cache()
        await cache.set(key("k"), b"1", ttl=self.ttl)
        await cache.set(key("k"), b"2")
        await self.wait(self.ttl * 2.5)
        assert await cache.get(key("k")) == b"2"

    # -- tenant deletion and key collisions ------------------------------------------------------

    async def test_delete_tenant_in_one_namespace_removes_exactly_those_keys(self) -> None:
        cache = await self.cache()
        for i in range(25):
            await cache.set(key("conv", str(i), namespace="conv"), b"x")
        await cache.set(key("other"), b"keep")
        await cache.set(key("conv", "1", tenant="tenant-ab", namespace="conv"), b"keep")
        await cache.set(key("conv", "1", tenant=B, namespace="conv"), b"keep")
        assert await cache.delete_tenant(A, namespace="conv") == 25
        assert await cache.get(key("conv", "3", namespace="conv")) is None
        assert await cache.get(key("other")) == b"keep"
        assert await cache.get(key("conv", "1", tenant="tenant-ab", namespace="conv")) == b"keep"
        assert await cache.get(key("conv", "1", tenant=B, namespace="conv")) == b"keep"

    async def test_an_index_lists_keys_and_deletes_exactly_them(self) -> None:
        cache = await self.cache()
        index = key("users", "bob")
        for i in range(3):
            await cache.set(key("answer", str(i)), b"bob's")
            await cache.index_add(index, key("answer", str(i)), ttl=60)
        await cache.index_add(index, key("answer", "0"))  # a set: listed once
        await cache.index_add(index, key("expired"))  # listed, but no longer stored
        await cache.set(key("answer", "alice"), b"alice's")
        await cache.set(key("answer", "0", tenant=B), b"b's")
        listed = [*(key("answer", str(i)) for i in range(3)), key("expired")]
        assert await cache.index_members(index) == sorted(listed)
        assert await cache.delete_indexed(index) == 3
        assert [await cache.get(key("answer", str(i))) for i in range(3)] == [None, None, None]
        assert await cache.index_members(index) == []
        assert await cache.delete_indexed(index) == 0
        assert await cache.get(key("answer", "alice")) == b"alice's"
        assert await cache.get(key("answer", "0", tenant=B)) == b"b's"
        assert await cache.index_members(key("users", "nobody")) == []

    async def test_a_ranked_index_keeps_the_best_scored_keys_and_goes_with_its_tenant(self) -> None:
        cache = await self.cache()
        assert cache.supports_ranking  # every shipped cache keeps ranked indexes
        index = key("rank")
        await cache.rank_add(index, {key("chat", "a"): 1, key("chat", "b"): 3}, max_members=3, ttl=60)
        await cache.rank_add(index, {key("chat", "a"): 1, key("chat", "c"): 5}, max_members=3, ttl=60)
        await cache.rank_add(index, {key("chat", "d"): 0.5}, max_members=3, ttl=60)  # below the best 3
        assert await cache.rank_top(index, 10) == [(key("chat", "c"), 5.0), (key("chat", "b"), 3.0),
                                                   (key("chat", "a"), 2.0)]  # fmt: skip
        assert await cache.rank_top(index, 1) == [(key("chat", "c"), 5.0)]
        assert await cache.rank_top(key("rank", tenant=B), 10) == []
        assert await cache.delete_tenant(A, namespace="app") >= 1
        assert await cache.rank_top(index, 10) == []

    async def test_tenant_deletion_never_touches_another_tenant(self) -> None:
        cache = await self.cache()
        await cache.set(key("x"), b"a")
        await cache.set(key("x", namespace=keys.GATEWAY), b"a")
        await cache.set(key("x", tenant=B), b"b")
        await cache.incr(key("counter", tenant=B))
        assert await cache.delete_tenant(A) == 2
        assert await cache.get(key("x")) is None
        assert await cache.get(key("x", namespace=keys.GATEWAY)) is None
        assert await cache.get(key("x", tenant=B)) == b"b"
        assert await cache.get(key("counter", tenant=B)) == b"1"

    async def test_no_tenant_is_a_prefix_of_another(self) -> None:
        cache = await self.cache()
        tenants = ("a", "a.b", "a-b", "a_b", "ab", "a.b.c", "A")
        for tenant in tenants:
            await cache.set(key("x", tenant=tenant), tenant.encode())
            await cache.set(key("x", tenant=tenant, namespace=keys.GATEWAY), tenant.encode())
        assert await cache.delete_tenant("a") == 2
        assert await cache.delete_tenant("a.b", namespace=keys.GATEWAY) == 1
        assert await cache.get(key("x", tenant="a")) is None
        assert await cache.get(key("x", tenant="a.b")) == b"a.b"
        for tenant in tenants[2:]:
            assert await cache.get(key("x", tenant=tenant)) == tenant.encode()
            assert await cache.get(key("x", tenant=tenant, namespace=keys.GATEWAY)) == tenant.encode()

    async def test_a_tenant_named_like_a_namespace_owns_only_its_own_keys(self) -> None:
        cache = await self.cache()
        # Tenant "gw" and tenant "ml": once ``gw:ml:...`` was both gw's ML entry and ml's gateway one.
        await cache.set(keys.tenant_key("gw", keys.ML, "pred", "sla", 1), b"gw's prediction")
        await cache.set(keys.tenant_key("ml", keys.GATEWAY, "chat", "d1"), b"ml's answer")
        await cache.set(keys.tenant_key("rl", keys.RATE_LIMITS, "req"), b"rl's bucket")
        await cache.set(keys.tenant_key("acme", keys.RATE_LIMITS, "req"), b"acme's bucket")
        assert await cache.delete_tenant("ml", namespace=keys.GATEWAY) == 1
        assert await cache.delete_tenant("gw", namespace=keys.GATEWAY) == 0
        assert await cache.delete_tenant("rl", namespace=keys.GATEWAY) == 0
        assert await cache.get(keys.tenant_key("gw", keys.ML, "pred", "sla", 1)) == b"gw's prediction"
        assert await cache.get(keys.tenant_key("rl", keys.RATE_LIMITS, "req")) == b"rl's bucket"
        assert await cache.get(keys.tenant_key("acme", keys.RATE_LIMITS, "req")) == b"acme's bucket"

    async def test_shared_keys_survive_every_tenant_deletion(self) -> None:
        cache = await self.cache()
        await cache.set(keys.shared_key(keys.BREAKERS, "openai/gpt-4o"), b"shared")
        await cache.set(key("x"), b"a")
        assert await cache.delete_tenant(A) == 1
        assert await cache.get(keys.shared_key(keys.BREAKERS, "openai/gpt-4o")) == b"shared"

    async def test_segments_with_separators_and_glob_characters_stay_distinct(self) -> None:
        cache = await self.cache()
        pairs = [(key("a:b"), b"1"), (key("a", "b"), b"2"), (key("q*"), b"3"), (key("q?x"), b"4"),
                 (key("[q]"), b"5"), (key("q"), b"6"), (key("}{"), b"7"), (key("100%"), b"8")]
        for name, value in pairs:
            await cache.set(name, value)
        for name, value in pairs:
            assert await cache.get(name) == value
        assert await cache.delete_tenant(A) == len(pairs)

    @pytest.mark.parametrize("tenant", BAD_TENANT_IDS)
    async def test_bad_tenants_delete_nothing(self, tenant: str) -> None:
        cache = await self.cache()
        await cache.set(key("x"), b"a")
        await cache.set(keys.tenant_key("bkt", keys.RATE_LIMITS, "req"), b"b")
        with pytest.raises(ValidationError):
            await cache.delete_tenant(tenant)
        with pytest.raises(ValidationError):
            await cache.delete_tenant(A, namespace=tenant)
        assert await cache.get(key("x")) == b"a"
        assert await cache.get(keys.tenant_key("bkt", keys.RATE_LIMITS, "req")) == b"b"

    # -- counters --------------------------------------------------------------------------------

    async def test_incr_creates_at_zero_and_adds(self) -> None:
        cache = await self.cache()
        assert await cache.incr(key("n")) == 1
        assert await cache.incr(key("n"), amount=5) == 6
        assert await cache.incr(key("n"), amount=-2) == 4
        assert await cache.get(key("n")) == b"4"

    async def test_incr_continues_from_a_set_integer(self) -> None:
        cache = await self.cache()
        await cache.set(key("n"), b"41")
        assert await cache.incr(key("n")) == 42

    async def test_incr_ttl_is_set_only_when_the_counter_is_created(self) -> None:
        cache = await self.cache()
        assert await cache.incr(key("window"), ttl=self.ttl) == 1
        await self.wait(self.ttl * 0.5)
        assert await cache.incr(key("window"), ttl=self.ttl * 100) == 2
        await self.wait(self.ttl * 2)
        assert await cache.get(key("window")) is None
        assert await cache.incr(key("window"), ttl=self.ttl) == 1

    async def test_incr_without_ttl_never_expires(self) -> None:
        cache = await self.cache()
        await cache.incr(key("forever"))
        await self.wait(self.ttl * 2.5)
        assert await cache.get(key("forever")) == b"1"

    async def test_concurrent_incr_is_atomic(self) -> None:
        cache = await self.cache()
        results = await asyncio.gather(*(cache.incr(key("hits"), ttl=60) for _ in range(200)))
        assert sorted(results) == list(range(1, 201))
        assert await cache.get(key("hits")) == b"200"

    async def test_incr_of_a_non_integer_value_is_a_cache_error_and_keeps_the_value(self) -> None:
        cache = await self.cache()
        await cache.set(key("text"), b"hello")
        with pytest.raises(CacheError):
            await cache.incr(key("text"))
        assert await cache.get(key("text")) == b"hello"

    # -- bad input -------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "bad_key",
        ["", None, 42, "x" * 5000, "tenant-a:k", "bkt:rl:tenant-a:req", "{tenant-a}:app:k\n",
         "{tenant-a}:app:", "{tenant-a}:app", "{..}:app:k", "{a:b}:app:k", "{tenant-a}:App:k",
         "{tenant-a}:app:a b", "{tenant-a}:app:a*", key("k") + "x" * 1024],
    )
    async def test_keys_outside_the_scheme_are_rejected(self, bad_key: object) -> None:
        cache = await self.cache()
        with pytest.raises(ValidationError):
            await cache.set(bad_key, b"v")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.get(bad_key)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.incr(bad_key)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.delete(bad_key)  # type: ignore[arg-type]

    async def test_invalid_values_ttls_prefixes_and_amounts_are_rejected_and_write_nothing(self) -> None:
        cache = await self.cache()
        with pytest.raises(ValidationError):
            await cache.set(key("k"), "not bytes")  # type: ignore[arg-type]
        for ttl in (0, -1, float("nan"), "10"):
            with pytest.raises(ValidationError):
                await cache.set(key("k"), b"v", ttl=ttl)  # type: ignore[arg-type]
            with pytest.raises(ValidationError):
                await cache.incr(key("n"), ttl=ttl)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.incr(key("n"), amount=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await cache.delete_tenant("")
        assert await cache.get(key("k")) is None
        assert await cache.get(key("n")) is None

    async def test_health_probe_answers(self) -> None:
        cache = await self.make_cache()
        self._made.append(cache)
        await assert_probe_answers(cache)


class CacheServerContract(CacheContract):
    """The Cache contract plus error translation, for adapters behind a server."""

    async def make_unreachable_cache(self) -> CachePort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_cache_unavailable_with_masked_address(self) -> None:
        cache = await self.make_unreachable_cache()
        self._made.append(cache)
        for call in (cache.get(key("k")), cache.set(key("k"), b"v"), cache.incr(key("n")),
                     cache.delete_tenant(A), cache.ping()):
            with pytest.raises(CacheUnavailable) as caught:
                await call
            error = caught.value
            assert isinstance(error.address, str) and "***" in error.address
            assert SECRET not in str(error) and SECRET not in error.address

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        cache = await self.make_unreachable_cache()
        self._made.append(cache)
        await assert_probe_reports_down(cache, secret=SECRET)
