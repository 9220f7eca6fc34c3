"""Abstract interfaces (async ABCs) between the domain and the adapters.

Each port module owns its error hierarchy; adapters translate vendor errors into it.
"""

from motadata_ai.ports.bus import BusError, BusPort, BusTimeout, BusUnavailable, Handler, Subscription
from motadata_ai.ports.cache import CacheError, CachePort, CacheUnavailable
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import (
    ContextWindowExceeded,
    LLMPort,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UnknownModel,
)
from motadata_ai.ports.vector_store import (
    DimensionMismatch,
    VectorStoreError,
    VectorStorePort,
    VectorStoreUnavailable,
)

__all__ = [
    "BusError",
    "BusPort",
    "BusTimeout",
    "BusUnavailable",
    "CacheError",
    "CachePort",
    "CacheUnavailable",
    "ContextWindowExceeded",
    "DimensionMismatch",
    "EmbeddingPort",
    "Handler",
    "LLMPort",
    "ProviderBadRequest",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Subscription",
    "UnknownModel",
    "VectorStoreError",
    "VectorStorePort",
    "VectorStoreUnavailable",
]
