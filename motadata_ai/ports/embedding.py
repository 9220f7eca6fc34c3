"""EmbeddingPort: texts to vectors."""

from __future__ import annotations

from abc import ABC, abstractmethod

from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse


class EmbeddingPort(ABC):
    """An embedding backend; errors are the LLM port's :class:`~motadata_ai.ports.llm.ProviderError`."""

    @abstractmethod
    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        """Return one vector per input text, in order."""

    def dimensions(self, model: str) -> int | None:
        """The vector size the model produces, when known."""
        return None

    async def aclose(self) -> None:  # noqa: B027
        """Release clients and connections."""
