"""GatewayPort: the one interface of the gateway that its users (RAG, agents, memory, the
unified query) depend on; ``motadata_ai.domain.gateway.Gateway`` implements it.

Declared once here, on the port side, so each use-case asks for the same methods under the same
signatures; a use-case that needs less simply calls less of it. ``capabilities(model)`` says
what a chat model can do (generative or extractive, tools, streaming), as its LLM port
advertises it: the use-cases choose their strategy from it, never from the model's name.

``request(tenant, operation=...)`` opens one user request (a RAG query, an agent task, a unified
query): it spends one of the tenant's requests at its start, and the calls made inside it are
made on its behalf (their ``purpose`` says why) and spend none; ``admit`` spends one more for a
further step of a request in progress (an agent task's next model call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from motadata_ai.domain.guardrails.context import ContextCheck, ContextOrigin
from motadata_ai.domain.values.calls import CallOrigin, Purpose
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    ModelCapabilities,
    StreamChunk,
)
from motadata_ai.domain.values.tenancy import TenantContext

__all__ = ["GatewayPort"]


class GatewayPort(Protocol):
    """Completions, streams, embeddings, context guarding and model capabilities for a tenant."""

    @property
    def default_model(self) -> str:
        """The chat model used when none is named."""
        ...

    @property
    def default_embedding_model(self) -> str:
        """The embedding model used when none is named."""
        ...

    def capabilities(self, model: str | None = None) -> ModelCapabilities:
        """What ``model`` (default: :attr:`default_model`) can do, as its LLM port advertises it."""
        ...

    def request(
        self,
        tenant_id: TenantContext | str,
        *,
        operation: str,
        wait: bool | None = None,
        user_id: str | None = None,
        conversation_id: str | None = None,
        spend: bool = True,
    ) -> AbstractAsyncContextManager[CallOrigin]:
        """One user request of ``tenant_id`` (for ``user_id``): spends one request at its start
        (none with ``spend=False``);
        calls inside it spend none, are attributed to its user and add to its ``usage``;
        ``conversation_id`` names the conversation it is a turn of."""
        ...

    async def admit(
        self, tenant_id: TenantContext | str, *, operation: str, wait: bool | None = None
    ) -> None:
        """Spend one more of the tenant's requests, for a further step of a request in progress."""
        ...

    async def generate(
        self,
        request: ChatRequest,
        *,
        tenant_id: TenantContext | str,
        purpose: Purpose | None = None,
        user_id: str | None = None,
        cache_per_user: bool = False,
    ) -> ChatResponse:
        """Run one completion for ``tenant_id``; ``purpose`` says why (inside a request), ``user_id``
        for whom; with ``cache_per_user`` the answer is cached for that user only."""
        ...

    def stream(
        self, request: ChatRequest, *, tenant_id: TenantContext | str, purpose: Purpose | None = None
    ) -> AsyncIterator[StreamChunk]:
        """Stream one completion for ``tenant_id``."""
        ...

    async def embed(
        self,
        texts: Sequence[str],
        *,
        tenant_id: TenantContext | str,
        model: str | None = None,
        wait: bool | None = None,
        purpose: Purpose | None = None,
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant_id``; ``wait`` queues a rate-limited call instead of failing."""
        ...

    async def guard_context(
        self,
        texts: Sequence[str],
        *,
        tenant_id: TenantContext | str,
        origin: ContextOrigin,
        model: str | None = None,
    ) -> ContextCheck:
        """Guard untrusted text before a prompt quotes it, at the tenant's guardrail level (audited)."""
        ...
