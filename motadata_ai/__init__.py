"""Motadata AI SDK: an AI gateway over LiteLLM, RAG on pgvector, agents with tools and memory,
and per-tenant ML, for multi-tenant ITSM backends.

``import motadata_ai`` stays light: LiteLLM, PyTorch and the database drivers load on first use.
Every SDK error is exported here and from :mod:`motadata_ai.errors` (which draws the tree); the
ones not imported below load with that module on first access (``motadata_ai.UnknownModel``).

    async with motadata_ai.connect() as ai:
        await ai.rag("acme").ingest("examples/knowledge_base")
        answer = await ai.query("How do I reset my password?", tenant_id="acme")
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from motadata_ai.api import (
    AI,
    connect,
    create_agent,
    create_gateway,
    create_ml_system,
    create_rag_system,
    create_unified_query_endpoint,
)
from motadata_ai.domain.gateway.errors import (
    BudgetExceeded,
    CircuitOpen,
    GuardrailViolation,
    RateLimited,
    RetriesExhausted,
)
from motadata_ai.domain.values import (
    ConfigurationError,
    InvalidTenant,
    MotadataError,
    NotFound,
    ServiceError,
    StoreUnavailable,
    TenantContext,
    UsageError,
    ValidationError,
)
from motadata_ai.domain.values.agents import TaskAlreadyResumed, TaskNotFound
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.plugins.hookspecs import hookimpl
from motadata_ai.ports.llm import ProviderError
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.errors import *  # noqa: F403 - the whole error tree, loaded lazily below

__version__ = "0.1.0"

__all__ = [
    "AI",
    "BudgetExceeded",
    "ChatRequest",
    "CircuitOpen",
    "ConfigurationError",
    "GuardrailViolation",
    "InvalidTenant",
    "Message",
    "MotadataError",
    "NotFound",
    "ProviderError",
    "RateLimited",
    "RetriesExhausted",
    "ServiceError",
    "Settings",
    "StoreUnavailable",
    "TaskAlreadyResumed",
    "TaskNotFound",
    "TenantContext",
    "UsageError",
    "ValidationError",
    "__version__",
    "connect",
    "create_agent",
    "create_gateway",
    "create_ml_system",
    "create_rag_system",
    "create_unified_query_endpoint",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    """The rest of the error tree, from :mod:`motadata_ai.errors` on first access."""
    if name.startswith("__"):
        raise AttributeError(f"module 'motadata_ai' has no attribute {name!r}")
    errors = importlib.import_module("motadata_ai.errors")
    if name in errors.__all__:
        return getattr(errors, name)
    raise AttributeError(f"module 'motadata_ai' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *importlib.import_module("motadata_ai.errors").__all__})
