"""The virtual keys' cache: a key is read from the store once per ``cache_seconds``; this
instance's revocations and charges show at once, another instance's once the entry ages out."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.keys import InMemoryKeyStore
from motadata_ai.domain.access import VirtualKeys
from motadata_ai.domain.access.key_cache import KeyCache
from motadata_ai.domain.values.api_keys import APIKey, InvalidAPIKey
from motadata_ai.domain.values.errors import BudgetExceeded, ConfigurationError

pytestmark = pytest.mark.asyncio


class CountingStore(InMemoryKeyStore):
    """The in-memory key store, counting its reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, key_id: str) -> APIKey | None:
        self.reads += 1
        return await super().get(key_id)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_is_read_from_the_store_once_per_cache_period() -> None:
    store, clock = CountingStore(), Clock()
    keys = VirtualKeys(store, clock=clock, cache_seconds=2.0)
    issued = await keys.create("acme")
    for _ in range(5):
        assert (await keys.authenticate(issued.token)).id == issued.key.id
    assert store.reads == 1
    clock.now += 2.0
    await keys.authenticate(issued.token)
    assert store.reads == 2


async def test_a_wrong_secret_is_refused_from_the_cache_too() -> None:
    keys = VirtualKeys(CountingStore(), clock=Clock())
    issued = await keys.create("acme")
    await keys.authenticate(issued.token)
    with pytest.raises(InvalidAPIKey):
        await keys.authenticate(issued.token[:-4] + "AAAA")


async def test_this_instances_revocation_and_charges_show_at_once() -> None:
    keys = VirtualKeys(CountingStore(), clock=Clock())
    issued = await keys.create("acme", budget_usd=0.01)
    key = await keys.authenticate(issued.token)
    await keys.charge(key, 0.02)
    with pytest.raises(BudgetExceeded):
        await keys.admit(await keys.authenticate(issued.token))
    await keys.revoke("acme", issued.key.id)
    with pytest.raises(InvalidAPIKey):
        await keys.authenticate(issued.token)


async def test_another_instances_revocation_shows_once_the_entry_aged_out() -> None:
    store, clock = CountingStore(), Clock()
    serving, admin = VirtualKeys(store, clock=clock), VirtualKeys(store, clock=clock)
    issued = await admin.create("acme")
    await serving.authenticate(issued.token)
    await admin.revoke("acme", issued.key.id)
    assert (await serving.authenticate(issued.token)).id == issued.key.id  # within cache_seconds
    clock.now += 2.0
    with pytest.raises(InvalidAPIKey):
        await serving.authenticate(issued.token)


async def test_unknown_keys_are_not_kept_and_zero_seconds_reads_every_time() -> None:
    store = CountingStore()
    keys = VirtualKeys(store, clock=Clock(), cache_seconds=0)
    issued = await keys.create("acme")
    await keys.authenticate(issued.token)
    await keys.authenticate(issued.token)
    assert store.reads == 2
    cached = VirtualKeys(store, clock=Clock())
    unknown = "mk-" + "0" * 16 + issued.token[len("mk-") + 16 :]
    for _ in range(2):
        with pytest.raises(InvalidAPIKey):
            await cached.authenticate(unknown)
    assert store.reads == 4  # an unknown id is asked for every time, never kept
    cache = KeyCache(ttl=2.0, clock=Clock(), max_entries=2)
    for number in range(3):
        cache.put(issued.key.model_copy(update={"id": f"{number:016x}"}))
    assert cache.size == 2 and cache.get(f"{0:016x}") is None and cache.get(f"{2:016x}") is not None
    with pytest.raises(ConfigurationError):
        KeyCache(ttl=-1, clock=Clock())
