"""The key store contract on the in-memory adapter."""

from __future__ import annotations

from motadata_ai.adapters.memory.keys import InMemoryKeyStore
from motadata_ai.ports.keys import KeyStorePort
from motadata_ai.testing.contracts.keys import KeyStoreContract


class TestInMemoryKeyStore(KeyStoreContract):
    async def make_store(self) -> KeyStorePort:
        return InMemoryKeyStore()
