"""The VectorStorePort contract on the in-memory adapter."""

from __future__ import annotations

from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.ports.vector_store import VectorStorePort
from motadata_ai.testing.contracts.vector_store import VectorStoreContract


class TestInMemoryVectorStore(VectorStoreContract):
    async def make_store(self) -> VectorStorePort:
        return InMemoryVectorStore(dimensions=self.dimensions)
