"""The KeyStorePort contract: one suite every virtual-key store must pass.

Subclass :class:`KeyStoreContract` (in a ``Test*`` class) and implement :meth:`make_store` to
return a store (tenants are unique per test, so a shared server works); adapters behind a server
subclass :class:`KeyStoreServerContract` and implement :meth:`make_unreachable_store`::

    class TestMyKeyStore(KeyStoreContract):
        async def make_store(self) -> KeyStorePort:
            return MyKeyStore(dsn=...)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.domain.access import VirtualKeys
from motadata_ai.domain.values.api_keys import InvalidAPIKey, TenantMismatch, issue_key
from motadata_ai.domain.values.errors import NotFound
from motadata_ai.ports.keys import KeyStoreError, KeyStorePort, KeyStoreUnavailable

__all__ = ["SECRET", "KeyStoreContract", "KeyStoreServerContract"]

SECRET = "s3cret"


class KeyStoreContract:
    """Behaviour every key store shares; subclasses provide the store."""

    async def make_store(self) -> KeyStorePort:
        """A store (tenants are unique to each test)."""
        raise NotImplementedError

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _stores(self) -> AsyncIterator[None]:
        self._made: list[KeyStorePort] = []
        suffix = uuid.uuid4().hex[:8]
        self.a = f"tenant-a-{suffix}"
        self.b = f"tenant-b-{suffix}"
        yield
        for store in self._made:
            await store.aclose()

    async def store(self) -> KeyStorePort:
        """A store, closed after the test."""
        store = await self.make_store()
        self._made.append(store)
        return store

    async def test_a_created_key_round_trips_with_its_policy_and_no_secret(self) -> None:
        keys = VirtualKeys(await self.store())
        issued = await keys.create(
            self.a,
            user_id="alice",
            name="ci",
            allowed_models=["openai/gpt-4o-mini"],
            requests_per_minute=5,
            budget_usd=1.5,
        )
        stored = await keys.store.get(issued.key.id)
        assert stored == issued.key
        assert stored is not None and stored.allowed_models == ("openai/gpt-4o-mini",)
        secret = issued.token.split("_", 1)[1]
        assert secret not in stored.model_dump_json() and secret not in repr(stored)
        assert (await keys.authenticate(issued.token)).id == issued.key.id

    async def test_a_wrong_secret_an_unknown_id_or_garbage_is_refused(self) -> None:
        keys = VirtualKeys(await self.store())
        issued = await keys.create(self.a)
        other = issue_key(self.a)  # never stored
        forged = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
        for token in (forged, other.token, "mk-xyz", "", None, issued.token + "\n"):
            with pytest.raises(InvalidAPIKey):
                await keys.authenticate(token)

    async def test_list_and_revoke_are_per_tenant(self) -> None:
        keys = VirtualKeys(await self.store())
        first = await keys.create(self.a, name="one")
        second = await keys.create(self.a, name="two")
        theirs = await keys.create(self.b, name="b")
        assert [k.id for k in await keys.list(self.a)] == [first.key.id, second.key.id]
        assert [k.id for k in await keys.list(self.b)] == [theirs.key.id]
        with pytest.raises(NotFound):
            await keys.revoke(self.b, first.key.id)  # tenant B cannot revoke A's key
        assert (await keys.authenticate(first.token)).id == first.key.id
        await keys.revoke(self.a, first.key.id)
        with pytest.raises(InvalidAPIKey):
            await keys.authenticate(first.token)
        with pytest.raises(NotFound):
            await keys.revoke(self.a, first.key.id)  # already revoked
        assert [k.id for k in await keys.list(self.a)] == [second.key.id]
        assert {k.id for k in await keys.list(self.a, include_revoked=True)} == {first.key.id, second.key.id}

    async def test_a_key_speaks_only_for_its_tenant(self) -> None:
        keys = VirtualKeys(await self.store())
        issued = await keys.create(self.a)
        key = await keys.authenticate(issued.token)
        assert VirtualKeys.check_tenant(key, None) == self.a
        assert VirtualKeys.check_tenant(key, self.a) == self.a
        with pytest.raises(TenantMismatch):
            VirtualKeys.check_tenant(key, self.b)

    async def test_adding_an_existing_id_is_refused(self) -> None:
        store = await self.store()
        issued = issue_key(self.a)
        await store.add(issued.key)
        with pytest.raises(KeyStoreError):
            await store.add(issued.key.model_copy(update={"tenant_id": self.b}))
        assert await store.list(tenant=self.b) == []

    async def test_concurrent_spend_loses_no_addition(self) -> None:
        store = await self.store()
        issued = issue_key(self.a, budget_usd=100.0)
        await store.add(issued.key)
        await asyncio.gather(*(store.add_spend(issued.key.id, 0.25) for _ in range(20)))
        stored = await store.get(issued.key.id)
        assert stored is not None and stored.spent_usd == pytest.approx(5.0)


class KeyStoreServerContract(KeyStoreContract):
    """The contract plus error translation, for stores behind a server."""

    async def make_unreachable_store(self) -> KeyStorePort:
        """A store pointed at a server that does not answer, with ``s3cret`` in its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_key_store_unavailable_with_masked_address(self) -> None:
        store = await self.make_unreachable_store()
        self._made.append(store)
        for call in (store.get("0" * 16), store.list(tenant=self.a), store.add(issue_key(self.a).key)):
            with pytest.raises(KeyStoreUnavailable) as caught:
                await call
            assert "***" in (caught.value.address or "") and SECRET not in str(caught.value)
