"""Gateway use-case: generate, stream and embed for a tenant through the configured ports.

(First slice: a pass-through. The policies — cache, limits, breaker, retries, fallbacks,
de-duplication, guardrails, ledger — are layered here by the gateway capability.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamChunk,
)
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import LLMPort


class Gateway:
    """Every LLM call and embedding of a tenant goes through here."""

    def __init__(
        self,
        *,
        llm: LLMPort,
        embeddings: EmbeddingPort,
        default_model: str,
        default_embedding_model: str,
    ) -> None:
        self._llm = llm
        self._embeddings = embeddings
        self.default_model = default_model
        self.default_embedding_model = default_embedding_model

    async def generate(self, request: ChatRequest, *, tenant: TenantContext | str) -> ChatResponse:
        """Run one completion for ``tenant``."""
        TenantContext.of(tenant)
        if not request.messages:
            raise ValidationError("messages must not be empty", field="messages")
        return await self._llm.complete(request)

    async def stream(self, request: ChatRequest, *, tenant: TenantContext | str) -> AsyncIterator[StreamChunk]:
        """Stream one completion for ``tenant``."""
        TenantContext.of(tenant)
        async for chunk in self._llm.stream(request):
            yield chunk

    async def embed(
        self, texts: Sequence[str], *, tenant: TenantContext | str, model: str | None = None
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant`` with ``model`` (default: the configured embedding model)."""
        TenantContext.of(tenant)
        return await self._embeddings.embed(
            EmbeddingRequest(model=model or self.default_embedding_model, inputs=tuple(texts))
        )
