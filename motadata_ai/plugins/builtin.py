"""The built-in plugin: the local models, registered through the same hooks as any plugin.

``local/extractive`` (chat) and ``local/all-minilm-l6-v2`` (embeddings) are in-process model
adapters (:class:`~motadata_ai.adapters.local.chat.LocalChat`,
:class:`~motadata_ai.adapters.local.embeddings.LocalEmbeddings`): the container routes ``local/...``
models to them, before LiteLLM, so the embedded default never imports LiteLLM. They are also
LiteLLM custom providers under the prefix ``local`` for whoever calls them through LiteLLM; those
handlers are built when LiteLLM loads. The MiniLM weights load once, on first use or at warm-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from motadata_ai.adapters.local import LOCAL_MODEL_INFO, LOCAL_PROVIDER
from motadata_ai.plugins.hookspecs import hookimpl


def _chat_provider() -> Any:
    from motadata_ai.adapters.local.providers import LocalChatProvider

    return LocalChatProvider()


def _embedding_provider() -> Any:
    from motadata_ai.adapters.local.providers import LocalEmbeddingProvider

    return LocalEmbeddingProvider()


def _models(mode: str) -> dict[str, dict[str, Any]]:
    return {name: info for name, info in LOCAL_MODEL_INFO.items() if info["mode"] == mode}


@hookimpl
def register_llm_providers(register: Callable[..., None]) -> None:
    """The local extractive generator."""
    register(LOCAL_PROVIDER, _chat_provider, models=_models("chat"))


@hookimpl
def register_embedding_providers(register: Callable[..., None]) -> None:
    """The local MiniLM embedding model."""
    register(LOCAL_PROVIDER, _embedding_provider, models=_models("embedding"))


@hookimpl
def register_model_adapters(register: Callable[[str, str, Callable[[], Any]], None]) -> None:
    """``local/...`` models served in process, without LiteLLM."""

    def local_chat() -> Any:
        from motadata_ai.adapters.local.chat import LocalChat

        return LocalChat()

    def local_embeddings() -> Any:
        from motadata_ai.adapters.local.embeddings import LocalEmbeddings

        return LocalEmbeddings()

    register("llm", LOCAL_PROVIDER, local_chat)
    register("embeddings", LOCAL_PROVIDER, local_embeddings)


@hookimpl
def register_adapters(register: Callable[[str, str, Callable[..., Any]], None]) -> None:
    """The LiteLLM and OpenTelemetry adapters, by port."""

    def litellm_chat(**options: Any) -> Any:
        from motadata_ai.adapters.litellm import LiteLLMChat

        return LiteLLMChat(**options)

    def litellm_embeddings(**options: Any) -> Any:
        from motadata_ai.adapters.litellm import LiteLLMEmbeddings

        return LiteLLMEmbeddings(**options)

    def otel(**options: Any) -> Any:
        from motadata_ai.adapters.otel import OtelTelemetry

        return OtelTelemetry(**options)

    register("llm", "litellm", litellm_chat)
    register("embeddings", "litellm", litellm_embeddings)
    register("telemetry", "otel", otel)
