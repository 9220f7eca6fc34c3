"""Shared by the agent unit tests: a gateway over a scripted model."""

from __future__ import annotations

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.ports.llm import LLMPort


def make_gateway(llm: LLMPort) -> Gateway:
    """A gateway with no cache and no rate limit, so every call reaches the scripted model."""
    return Gateway(
        llm=llm,
        embeddings=HashEmbeddings(dimensions=64),
        config=GatewayConfig(
            default_model="test-model",
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
            request_deduplication=False,
            max_retries=0,
        ),
    )
