"""Motadata AI SDK: an AI gateway over LiteLLM, RAG on pgvector, agents with tools and memory,
and per-tenant ML, for multi-tenant ITSM backends.

``import motadata_ai`` stays light: LiteLLM, PyTorch and the database drivers load on first use.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from motadata_ai.domain.values import (  # noqa: E402
    ConfigurationError,
    InvalidTenant,
    MotadataError,
    NotFound,
    ServiceError,
    StoreUnavailable,
    TenantContext,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "InvalidTenant",
    "MotadataError",
    "NotFound",
    "ServiceError",
    "StoreUnavailable",
    "TenantContext",
    "ValidationError",
    "__version__",
]
