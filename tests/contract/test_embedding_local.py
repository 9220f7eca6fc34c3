"""The EmbeddingPort contract on local MiniLM embeddings, reached through LiteLLM like any model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from motadata_ai.adapters.litellm import LiteLLMEmbeddings
from motadata_ai.adapters.local import LOCAL_EMBEDDING_MODEL, MINILM_DIMENSIONS
from motadata_ai.plugins import PluginManager
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.testing.contracts.embedding import SemanticEmbeddingContract, cosine


@pytest.fixture(scope="module")
def local_providers() -> Iterator[PluginManager]:
    """The built-in plugin's providers installed into LiteLLM for this module, removed afterwards."""
    manager = PluginManager(allow=["builtin"]).load()
    manager.install_providers()
    yield manager
    manager.uninstall_providers()


class TestLocalMiniLM(SemanticEmbeddingContract):
    model = LOCAL_EMBEDDING_MODEL

    @pytest.fixture(autouse=True)
    def _providers(self, local_providers: PluginManager) -> None:
        self.providers = local_providers

    async def make_embeddings(self) -> EmbeddingPort:
        return LiteLLMEmbeddings()

    async def test_384_dimensions_unit_length(self) -> None:
        port = await self.make_embeddings()
        assert port.dimensions(self.model) == MINILM_DIMENSIONS
        (vector,) = (await self.embed(port, "How do I reset my VPN password?")).vectors
        assert len(vector) == 384
        assert cosine(vector, vector) == pytest.approx(1.0, abs=1e-5)
        assert sum(x * x for x in vector) == pytest.approx(1.0, abs=1e-4)

    async def test_paraphrases_are_close(self) -> None:
        port = await self.make_embeddings()
        a, b, c = (
            await self.embed(
                port,
                "My laptop will not turn on.",
                "The notebook computer does not power up.",
                "Order more toner.",
            )
        ).vectors
        assert cosine(a, b) > 0.5 > cosine(a, c)


class TestLocalMiniLMDirect(TestLocalMiniLM):
    """The same contract on :class:`LocalEmbeddings`, the in-process adapter the container routes
    ``local/...`` models to (no LiteLLM)."""

    async def make_embeddings(self) -> EmbeddingPort:
        from motadata_ai.adapters.local.embeddings import LocalEmbeddings

        return LocalEmbeddings()
