"""GatewayLike: what the RAG use-case and its collaborators need of the gateway."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from motadata_ai.domain.guardrails.context import ContextCheck, ContextOrigin
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, EmbeddingResponse
from motadata_ai.domain.values.tenancy import TenantContext


class GatewayLike(Protocol):
    """What RAG needs of the gateway: embeddings, completions and the default model names."""

    @property
    def default_model(self) -> str:
        """The chat model used when none is named."""
        ...

    @property
    def default_embedding_model(self) -> str:
        """The embedding model used when none is named."""
        ...

    async def embed(
        self,
        texts: Sequence[str],
        *,
        tenant: TenantContext | str,
        model: str | None = None,
        wait: bool | None = None,
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant``; ``wait`` queues a rate-limited call instead of failing."""
        ...

    async def generate(self, request: ChatRequest, *, tenant: TenantContext | str) -> ChatResponse:
        """Run one completion for ``tenant``."""
        ...

    async def guard_context(
        self,
        texts: Sequence[str],
        *,
        tenant: TenantContext | str,
        origin: ContextOrigin,
        model: str | None = None,
    ) -> ContextCheck:
        """Guard untrusted text before a prompt quotes it, at the tenant's guardrail level (audited)."""
        ...
