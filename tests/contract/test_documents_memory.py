"""The document store contract on the in-memory adapter."""

from __future__ import annotations

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.testing.contracts.documents import DocumentStoreContract


class TestInMemoryDocumentStore(DocumentStoreContract):
    async def make_store(self) -> InMemoryDocumentStore:
        return InMemoryDocumentStore()
