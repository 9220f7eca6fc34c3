"""Local models for the embedded default: MiniLM embeddings and the extractive generator.

The engines (:mod:`.extractive`, :mod:`.minilm` over :mod:`.bert`) import no LiteLLM.
:class:`~.chat.LocalChat` and :class:`~.embeddings.LocalEmbeddings` are the LLM and embedding
ports on them (``model="local/extractive"``, ``model="local/all-minilm-l6-v2"``), what the
container routes ``local/...`` models to; :mod:`.providers` wraps the same engines as LiteLLM
custom providers, for calls through LiteLLM.
"""

from typing import Any

from motadata_ai.adapters.local._served import LOCAL_PROVIDER
from motadata_ai.adapters.local.extractive import NOT_FOUND, ExtractiveAnswer, ExtractiveGenerator
from motadata_ai.adapters.local.minilm import MINILM_DIMENSIONS, MINILM_MODEL, MiniLMEmbedder

LOCAL_CHAT_MODEL = "local/extractive"
LOCAL_EMBEDDING_MODEL = "local/all-minilm-l6-v2"

_FREE = {
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
}
LOCAL_MODEL_INFO: dict[str, dict[str, Any]] = {
    LOCAL_CHAT_MODEL: {
        "litellm_provider": LOCAL_PROVIDER,
        "mode": "chat",
        "max_input_tokens": 32768,
        "max_output_tokens": 1024,
        "max_tokens": 32768,
        "supports_function_calling": True,
        **_FREE,
    },
    LOCAL_EMBEDDING_MODEL: {
        "litellm_provider": LOCAL_PROVIDER,
        "mode": "embedding",
        "max_input_tokens": 256,
        "max_tokens": 256,
        "output_vector_size": MINILM_DIMENSIONS,
        **_FREE,
    },
}
"""What LiteLLM is told about the local models (context windows, zero prices, vector size)."""

__all__ = [
    "LOCAL_CHAT_MODEL",
    "LOCAL_EMBEDDING_MODEL",
    "LOCAL_MODEL_INFO",
    "LOCAL_PROVIDER",
    "MINILM_DIMENSIONS",
    "MINILM_MODEL",
    "NOT_FOUND",
    "ExtractiveAnswer",
    "ExtractiveGenerator",
    "MiniLMEmbedder",
]
