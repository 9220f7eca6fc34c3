"""The HTTP gateway under test: the app over a real gateway (LiteLLM to the loopback OpenAI-protocol
upstream), in-memory stores and virtual keys, served by uvicorn on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import openai

from motadata_ai.adapters.litellm import LiteLLMChat, LiteLLMEmbeddings
from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.keys import InMemoryKeyStore
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog, InMemoryUsageLedger
from motadata_ai.adapters.memory.limits import InMemoryLimits
from motadata_ai.domain.access import VirtualKeys
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.routing.unified import UnifiedResponse
from motadata_ai.http import create_app
from motadata_ai.testing.http_server import serve_app
from motadata_ai.testing.openai_server import OpenAIServer

MODEL = "openai/gpt-4o-mini"
EMBEDDING_MODEL = "openai/text-embedding-3-small"


class Target:
    """The SDK's surface the app serves: the gateway and a unified query that records its tenant."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.asked: list[tuple[str, str | None]] = []

    async def query(
        self,
        query: str,
        *,
        tenant_id: str,
        user_id: str | None = None,
        conversation_id: str | None = None,
        mode: Literal["auto", "agent", "rag", "both"] = "auto",
    ) -> UnifiedResponse:
        self.asked.append((tenant_id, user_id))
        return UnifiedResponse(
            query=query,
            answer=f"answer for {tenant_id}",
            mode="rag",
            requested_mode=mode,
            route_reason="test",
            confidence=1.0,
            tenant_id=tenant_id,
            user_id=user_id,
        )


@dataclass
class Rig:
    url: str
    keys: VirtualKeys
    gateway: Gateway
    ledger: InMemoryUsageLedger
    target: Target

    def client(self, token: str, **options: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=token, base_url=f"{self.url}/v1", max_retries=0, **options)


@asynccontextmanager
async def rig(upstream: OpenAIServer, **config: Any) -> AsyncIterator[Rig]:
    limits = InMemoryLimits()
    ledger = InMemoryUsageLedger()
    gateway = Gateway(
        llm=LiteLLMChat(api_base=upstream.base_url, api_key="sk-test", timeout=10),
        embeddings=LiteLLMEmbeddings(api_base=upstream.base_url, api_key="sk-test", timeout=10),
        config=GatewayConfig(default_model=MODEL, default_embedding_model=EMBEDDING_MODEL, **config),
        cache=InMemoryCache(),
        limits=limits,
        ledger=ledger,
        audit=InMemoryAuditLog(),
    )
    keys = VirtualKeys(InMemoryKeyStore(), limits=limits)
    target = Target(gateway)
    try:
        async with serve_app(create_app(target, keys=keys)) as url:
            yield Rig(url=url, keys=keys, gateway=gateway, ledger=ledger, target=target)
    finally:
        await gateway.aclose()
