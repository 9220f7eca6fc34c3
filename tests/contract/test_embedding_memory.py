"""The EmbeddingPort contract on the in-process HashEmbeddings."""

from __future__ import annotations

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.testing.contracts.embedding import EmbeddingContract


class TestHashEmbeddings(EmbeddingContract):
    model = "hash"

    async def make_embeddings(self) -> EmbeddingPort:
        return HashEmbeddings(dimensions=64)
