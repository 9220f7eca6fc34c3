"""Motadata AI SDK: an AI gateway over LiteLLM, RAG on pgvector, agents with tools and memory,
and per-tenant ML, for multi-tenant ITSM backends.

``import motadata_ai`` is light: every public name, ``connect`` and ``Settings`` included, loads
its module on first access; LiteLLM, PyTorch and the database drivers load on first use.
Every SDK error is exported here and from :mod:`motadata_ai.errors` (which draws the tree); the
ones not named in ``__all__`` load with that module on first access (``motadata_ai.UnknownModel``).

    async with motadata_ai.connect() as ai:
        await ai.rag("acme").ingest("examples/knowledge_base")
        answer = await ai.query("How do I reset my password?", tenant_id="acme")

Everything a user touches is importable from here: the result types (``ChatResponse``,
``RAGResponse``, ``AgentTask``, ``UnifiedResponse``, ``Prediction``), the ML inputs (``Dataset``,
``DatasetSchema``, ``dataset_from_csv``), ``ToolContext``, the sync facade (``connect_sync``), the
function API of the design document (``create_gateway``, ``create_rag_system``, ...; see
:mod:`motadata_ai.functions`) and every error. Names outside the light core load on first access.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

if TYPE_CHECKING:
    from motadata_ai.adapters.filesystem.datasets import dataset_from_csv
    from motadata_ai.api import AI, connect
    from motadata_ai.domain.agents.tools import ToolContext
    from motadata_ai.domain.gateway.budgets import BudgetRule
    from motadata_ai.domain.gateway.errors import (
        BudgetExceeded,
        CircuitOpen,
        GuardrailViolation,
        RateLimited,
        RetriesExhausted,
    )
    from motadata_ai.domain.gateway.experiments import Experiment, ExperimentReport, PromptRef
    from motadata_ai.domain.routing.unified import UnifiedResponse
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
    from motadata_ai.domain.values.agents import AgentTask, TaskAlreadyResumed, TaskNotFound
    from motadata_ai.domain.values.documents import RAGResponse, Source
    from motadata_ai.domain.values.llm import (
        ChatRequest,
        ChatResponse,
        EmbeddingResponse,
        Message,
        StreamChunk,
        ToolCall,
    )
    from motadata_ai.domain.values.messages import MessageParam
    from motadata_ai.domain.values.ml import Dataset, DatasetSchema, FeatureSpec, Prediction
    from motadata_ai.domain.values.usage import BudgetAlert
    from motadata_ai.errors import *  # noqa: F403 - the whole error tree, loaded lazily below
    from motadata_ai.functions import (
        GenerateResponse,
        chat_with_agent,
        create_agent,
        create_agent_with_memory,
        create_cache_mechanism,
        create_database_connection,
        create_gateway,
        create_ml_system,
        create_rag_system,
        create_unified_query_endpoint,
        health_check,
        quick_rag_query_async,
    )
    from motadata_ai.plugins.hookspecs import hookimpl
    from motadata_ai.ports.llm import ProviderError
    from motadata_ai.settings import Settings
    from motadata_ai.sync import SyncAI, connect_sync

_BY_MODULE: dict[str, tuple[str, ...]] = {
    "motadata_ai.adapters.filesystem.datasets": ("dataset_from_csv",),
    "motadata_ai.api": ("AI", "connect"),
    "motadata_ai.domain.agents.tools": ("ToolContext",),
    "motadata_ai.domain.gateway.budgets": ("BudgetRule",),
    "motadata_ai.domain.gateway.errors": (
        "BudgetExceeded",
        "CircuitOpen",
        "GuardrailViolation",
        "RateLimited",
        "RetriesExhausted",
    ),
    "motadata_ai.domain.gateway.experiments": ("Experiment", "ExperimentReport", "PromptRef"),
    "motadata_ai.domain.routing.unified": ("UnifiedResponse",),
    "motadata_ai.domain.values": (
        "ConfigurationError",
        "InvalidTenant",
        "MotadataError",
        "NotFound",
        "ServiceError",
        "StoreUnavailable",
        "TenantContext",
        "UsageError",
        "ValidationError",
    ),
    "motadata_ai.domain.values.agents": ("AgentTask", "TaskAlreadyResumed", "TaskNotFound"),
    "motadata_ai.domain.values.documents": ("RAGResponse", "Source"),
    "motadata_ai.domain.values.llm": (
        "ChatRequest",
        "ChatResponse",
        "EmbeddingResponse",
        "Message",
        "StreamChunk",
        "ToolCall",
    ),
    "motadata_ai.domain.values.messages": ("MessageParam",),
    "motadata_ai.domain.values.ml": ("Dataset", "DatasetSchema", "FeatureSpec", "Prediction"),
    "motadata_ai.domain.values.usage": ("BudgetAlert",),
    "motadata_ai.functions": (
        "GenerateResponse",
        "chat_with_agent",
        "create_agent",
        "create_agent_with_memory",
        "create_cache_mechanism",
        "create_database_connection",
        "create_gateway",
        "create_ml_system",
        "create_rag_system",
        "create_unified_query_endpoint",
        "health_check",
        "quick_rag_query_async",
    ),
    "motadata_ai.plugins.hookspecs": ("hookimpl",),
    "motadata_ai.ports.llm": ("ProviderError",),
    "motadata_ai.settings": ("Settings",),
    "motadata_ai.sync": ("SyncAI", "connect_sync"),
}
"""Every public name by the module it loads from on first access, so that ``import motadata_ai``,
a command line and the package's own modules (``import motadata_ai.cli``) stay light."""

_LAZY: dict[str, str] = {name: module for module, names in _BY_MODULE.items() for name in names}


__version__ = "0.1.0"

__all__ = [
    "AI",
    "AgentTask",
    "BudgetAlert",
    "BudgetExceeded",
    "BudgetRule",
    "ChatRequest",
    "ChatResponse",
    "CircuitOpen",
    "ConfigurationError",
    "Dataset",
    "DatasetSchema",
    "EmbeddingResponse",
    "Experiment",
    "ExperimentReport",
    "FeatureSpec",
    "GenerateResponse",
    "GuardrailViolation",
    "InvalidTenant",
    "Message",
    "MessageParam",
    "MotadataError",
    "NotFound",
    "Prediction",
    "PromptRef",
    "ProviderError",
    "RAGResponse",
    "RateLimited",
    "RetriesExhausted",
    "ServiceError",
    "Settings",
    "Source",
    "StoreUnavailable",
    "StreamChunk",
    "SyncAI",
    "TaskAlreadyResumed",
    "TaskNotFound",
    "TenantContext",
    "ToolCall",
    "ToolContext",
    "UnifiedResponse",
    "UsageError",
    "ValidationError",
    "__version__",
    "chat_with_agent",
    "connect",
    "connect_sync",
    "create_agent",
    "create_agent_with_memory",
    "create_cache_mechanism",
    "create_database_connection",
    "create_gateway",
    "create_ml_system",
    "create_rag_system",
    "create_unified_query_endpoint",
    "dataset_from_csv",
    "health_check",
    "hookimpl",
    "quick_rag_query_async",
]


def __getattr__(name: str) -> Any:
    """The lazily loaded public names, and the rest of the error tree from :mod:`motadata_ai.errors`."""
    if name.startswith("__"):
        raise AttributeError(f"module 'motadata_ai' has no attribute {name!r}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    errors = importlib.import_module("motadata_ai.errors")
    if name in errors.__all__:
        return getattr(errors, name)
    raise AttributeError(f"module 'motadata_ai' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *importlib.import_module("motadata_ai.errors").__all__})
