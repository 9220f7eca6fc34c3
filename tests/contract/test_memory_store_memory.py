"""The memory store contract on the in-memory adapter."""

from __future__ import annotations

from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.ports.memory import MemoryStorePort
from motadata_ai.testing.contracts.memory_store import MemoryStoreContract


class TestInMemoryMemoryStore(MemoryStoreContract):
    async def make_store(self) -> MemoryStorePort:
        return InMemoryMemoryStore()
