"""The hooks a Motadata AI plugin may implement; each receives a ``register`` callback.

A plugin is a module (or object) with functions marked ``@hookimpl`` (import it as
``from motadata_ai import hookimpl``, never from pluggy), published under the entry-point group
``motadata_ai``. The host validates and de-duplicates whatever the callbacks receive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "motadata_ai"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = [
    "PROJECT",
    "hookimpl",
    "hookspec",
    "register_adapters",
    "register_embedding_providers",
    "register_llm_providers",
    "register_model_adapters",
    "register_tools",
]


@hookspec
def register_llm_providers(register: Callable[..., None]) -> None:
    """Register LiteLLM custom chat providers: ``register(name, handler, models=None)``."""


@hookspec
def register_embedding_providers(register: Callable[..., None]) -> None:
    """Register LiteLLM custom embedding providers: ``register(name, handler, models=None)``."""


@hookspec
def register_tools(register: Callable[[Any], None]) -> None:
    """Register agent tools: ``register(function_or_tool)``."""


@hookspec
def register_adapters(register: Callable[[str, str, Callable[..., Any]], None]) -> None:
    """Register adapters for a port: ``register(port_name, adapter_name, factory)``."""


@hookspec
def register_model_adapters(register: Callable[[str, str, Callable[[], Any]], None]) -> None:
    """Serve ``<prefix>/...`` models of a port in process: ``register(port, prefix, factory)``,
    port ``llm`` or ``embeddings``, ``factory()`` an LLMPort/EmbeddingPort (instead of LiteLLM)."""
