"""EmbeddingPort: texts to vectors."""

from __future__ import annotations

from abc import abstractmethod

from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse
from motadata_ai.ports.health import HealthProbe
from motadata_ai.ports.llm import ServerAddress


class EmbeddingPort(HealthProbe):
    """An embedding backend; errors are the LLM port's :class:`~motadata_ai.ports.llm.ProviderError`.

    Its :meth:`health` probe is cheap, like the LLM port's: loaded weights for an in-process
    model, a configured provider for a remote one.
    """

    @abstractmethod
    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        """Return one vector per input text, in order."""

    def dimensions(self, model: str) -> int | None:
        """The vector size the model produces, when known."""
        return None

    def server_address(self, model: str) -> ServerAddress | None:
        """The server that answers ``model``'s calls, when known (``None``: in process)."""
        return None

    async def aclose(self) -> None:
        """Release clients and connections."""
