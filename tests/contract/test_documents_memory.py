"""The document store contract on the in-memory adapter."""

from __future__ import annotations

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.testing.contracts.documents import DocumentStoreContract


class TestInMemoryDocumentStore(DocumentStoreContract):
    async def make_store(self) -> InMemoryDocumentStore:
        return InMemoryDocumentStore()

    async def make_vector_store(self, store: InMemoryDocumentStore) -> InMemoryVectorStore:
        return InMemoryVectorStore(dimensions=self.dimensions)
