"""The LeasePort contract: one suite every lease adapter must pass.

Subclass :class:`LeaseContract` (in a ``Test*`` class) and implement :meth:`make_leases` to
return a fresh, empty store (and :meth:`make_other` for a second client of the same store, as a
second instance would hold); override :meth:`wait` when it runs on a fake clock.
:class:`LeaseServerContract` adds :meth:`make_unreachable_leases` for adapters behind a server::

    class TestMyLeases(LeaseServerContract):
        async def make_leases(self) -> LeasePort:
            return MyLeases(url=..., namespace=f"test-{uuid.uuid4().hex}")
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.leases import LeasePort, LeaseUnavailable

__all__ = ["LeaseContract", "LeaseServerContract"]

SECRET = "s3cret"


def request_key(tenant: str = "tenant-a") -> str:
    """A fresh key of ``tenant``'s gateway namespace, as the gateway builds a request's key."""
    return keys.tenant_key(tenant, keys.GATEWAY, "chat", uuid.uuid4().hex)


class LeaseContract:
    """Behaviour every :class:`LeasePort` adapter shares; subclasses provide the stores."""

    async def make_leases(self) -> LeasePort:
        """A fresh, empty store."""
        raise NotImplementedError

    async def make_other(self, first: LeasePort) -> LeasePort:
        """A second client of ``first``'s store (another instance); by default ``first`` itself."""
        return first

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass on the store's clock."""
        await asyncio.sleep(seconds)

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _stores(self) -> AsyncIterator[None]:
        self._made: list[LeasePort] = []
        yield
        for store in self._made:
            await store.aclose()

    async def leases(self) -> tuple[LeasePort, LeasePort]:
        """A fresh store and a second client of it, both closed after the test."""
        store = await self.make_leases()
        self._made.append(store)
        other = await self.make_other(store)
        if other is not store:
            self._made.append(other)
        return store, other

    async def test_one_owner_at_a_time(self) -> None:
        one, two = await self.leases()
        key = request_key()
        assert await one.acquire(key, owner="a", ttl=5)
        assert not await two.acquire(key, owner="b", ttl=5)
        assert await one.acquire(key, owner="a", ttl=5)  # the holder asking again still holds it

    async def test_an_expired_lease_passes_to_the_next_owner(self) -> None:
        one, two = await self.leases()
        key = request_key()
        assert await one.acquire(key, owner="a", ttl=0.2)
        await self.wait(0.35)
        assert await two.acquire(key, owner="b", ttl=5)
        assert not await one.extend(key, owner="a", ttl=5)  # the old holder cannot take it back
        assert not await one.acquire(key, owner="a", ttl=5)

    async def test_extend_keeps_the_lease_of_its_owner_only(self) -> None:
        one, two = await self.leases()
        key = request_key()
        assert await one.acquire(key, owner="a", ttl=0.3)
        await self.wait(0.15)
        assert await one.extend(key, owner="a", ttl=0.5)
        assert not await two.extend(key, owner="b", ttl=5)
        await self.wait(0.25)  # past the first ttl, within the extended one
        assert not await two.acquire(key, owner="b", ttl=5)

    async def test_release_hands_over_the_result_and_frees_the_lease(self) -> None:
        one, two = await self.leases()
        key = request_key()
        assert await one.acquire(key, owner="a", ttl=5)
        assert await two.result(key) is None
        assert await one.release(key, owner="a", result=b"\x00answer\xff", result_ttl=5)
        assert await two.result(key) == b"\x00answer\xff"
        assert await two.acquire(key, owner="b", ttl=5)

    async def test_release_by_another_owner_keeps_the_lease_but_stores_the_result(self) -> None:
        one, two = await self.leases()
        key = request_key()
        assert await one.acquire(key, owner="a", ttl=5)
        assert not await two.release(key, owner="b", result=b"late", result_ttl=5)
        assert not await two.acquire(key, owner="b", ttl=5)
        assert await one.result(key) == b"late"

    async def test_release_without_a_result_leaves_none(self) -> None:
        one, two = await self.leases()
        key = request_key()
        assert await one.acquire(key, owner="a", ttl=5)
        assert await one.release(key, owner="a")
        assert await two.result(key) is None
        assert await two.acquire(key, owner="b", ttl=5)

    async def test_results_expire(self) -> None:
        one, _ = await self.leases()
        key = request_key()
        assert await one.acquire(key, owner="a", ttl=5)
        await one.release(key, owner="a", result=b"x", result_ttl=0.2)
        await self.wait(0.35)
        assert await one.result(key) is None

    async def test_keys_of_different_tenants_never_meet(self) -> None:
        one, two = await self.leases()
        digest = uuid.uuid4().hex
        a = keys.tenant_key("tenant-a", keys.GATEWAY, "chat", digest)
        b = keys.tenant_key("tenant-b", keys.GATEWAY, "chat", digest)
        assert await one.acquire(a, owner="a", ttl=5)
        assert await two.acquire(b, owner="b", ttl=5)
        await one.release(a, owner="a", result=b"for a", result_ttl=5)
        assert await two.result(b) is None

    async def test_bad_arguments_are_validation_errors(self) -> None:
        one, _ = await self.leases()
        key = request_key()
        for call in (
            lambda: one.acquire("no-scheme", owner="a", ttl=5),
            lambda: one.acquire(key, owner="", ttl=5),
            lambda: one.acquire(key, owner="has space", ttl=5),
            lambda: one.acquire(key, owner="a", ttl=0),
            lambda: one.extend(key, owner="a", ttl=-1),
            lambda: one.release(key, owner="a", result=b"x", result_ttl=0),
        ):
            with pytest.raises(ValidationError):
                await call()

    async def test_health_reports_ok(self) -> None:
        one, _ = await self.leases()
        assert (await one.health()).status == "ok"


class LeaseServerContract(LeaseContract):
    """The lease contract plus error translation, for adapters behind a server."""

    async def make_unreachable_leases(self) -> LeasePort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_lease_unavailable_with_masked_address(self) -> None:
        store = await self.make_unreachable_leases()
        self._made.append(store)
        key = request_key()
        for call in (
            store.acquire(key, owner="a", ttl=1),
            store.extend(key, owner="a", ttl=1),
            store.release(key, owner="a", result=b"x", result_ttl=1),
            store.result(key),
        ):
            with pytest.raises(LeaseUnavailable) as caught:
                await call
            assert "***" in caught.value.address and SECRET not in str(caught.value)
        assert (await store.health()).status == "down"
