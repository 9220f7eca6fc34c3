"""Loading LiteLLM lazily, configured once for low per-call overhead, and its custom providers.

``import motadata_ai`` never imports LiteLLM (a cold import takes seconds); the adapters await
:func:`aload_litellm` on first use, which imports it on a worker thread (once, under a lock), so
the event loop keeps running while it loads and the call's timeout bounds the wait; ``connect()``
warms it at start-up when the default model is remote (``warm_up``). Custom providers
(``litellm.custom_provider_map``) may be registered before that: they are kept here and installed
when LiteLLM loads.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

_lock = threading.Lock()
_litellm: Any = None
_chat_handlers: dict[str, Any] = {}
_embedding_handlers: dict[str, Any] = {}
_installed: dict[str, Any] = {}
_model_info: dict[str, dict[str, Any]] = {}


def load_litellm() -> Any:
    """Import and configure LiteLLM once (offline cost map, no debug chatter, no callbacks)."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_TELEMETRY", "False")
            import litellm

            litellm.suppress_debug_info = True  # no "Give Feedback" banners on every error
            litellm.drop_params = True  # a parameter one provider lacks is dropped, not an error
            litellm.set_verbose = False
            if hasattr(litellm, "telemetry"):
                litellm.telemetry = False
            from motadata_ai.adapters.otel.logs import adopt_if_configured

            adopt_if_configured()  # LiteLLM's own handlers would print each line a second time
            _litellm = litellm
            _install_pending()
    return _litellm


async def aload_litellm() -> Any:
    """:func:`load_litellm` off the event loop: the first caller imports LiteLLM on a worker thread
    (the module lock makes it happen once; concurrent callers wait on their own threads); once
    loaded, it returns at once. Cancelling the wait (a timeout) leaves the import to finish."""
    if _litellm is not None:
        return _litellm
    return await asyncio.to_thread(load_litellm)


def loaded_litellm() -> Any | None:
    """The LiteLLM module when it is loaded, else ``None`` (never imports it)."""
    return _litellm


def register_custom_provider(name: str, *, chat: Any = None, embedding: Any = None) -> None:
    """Serve ``model="<name>/..."`` with the given ``litellm.CustomLLM`` handlers (or factories).

    ``chat`` answers completions and streams, ``embedding`` answers embeddings; either may be a
    zero-argument callable that builds the handler when LiteLLM loads. Registering a kind again
    for the same name replaces it.
    """
    if not name or "/" in name:
        raise ValueError(f"provider name {name!r} must be non-empty and hold no '/'")
    with _lock:
        if chat is not None:
            _chat_handlers[name] = chat
        if embedding is not None:
            _embedding_handlers[name] = embedding
    if _litellm is not None:
        with _lock:
            _install_pending()


def unregister_custom_provider(name: str) -> None:
    """Remove a provider registered with :func:`register_custom_provider`."""
    with _lock:
        _chat_handlers.pop(name, None)
        _embedding_handlers.pop(name, None)
        _installed.pop(name, None)
        if _litellm is not None:
            _litellm.custom_provider_map = [
                item for item in _litellm.custom_provider_map if item.get("provider") != name
            ]
            if name in _litellm._custom_providers:
                _litellm._custom_providers.remove(name)


def custom_providers() -> list[str]:
    """Names of the registered custom providers."""
    with _lock:
        return sorted(set(_chat_handlers) | set(_embedding_handlers))


def register_model_info(model: str, info: dict[str, Any]) -> None:
    """Describe a model to LiteLLM (``max_input_tokens``, prices, ``mode``), as ``litellm.register_model``."""
    with _lock:
        _model_info[model] = dict(info)
        if _litellm is not None:
            _litellm.register_model({model: dict(info)})


def _build(handler: Any) -> Any:
    from litellm import CustomLLM

    if handler is None or isinstance(handler, CustomLLM):
        return handler
    built = handler()
    if not isinstance(built, CustomLLM):
        raise TypeError(f"a custom provider factory returned {type(built).__name__}, not a litellm.CustomLLM")
    return built


def _install_pending() -> None:
    """Install every registered handler into ``litellm.custom_provider_map`` (lock held)."""
    litellm = _litellm
    from litellm.utils import custom_llm_setup

    for name in set(_chat_handlers) | set(_embedding_handlers):
        key = (id(_chat_handlers.get(name)), id(_embedding_handlers.get(name)))
        if _installed.get(name) == key:
            continue
        handler = _combine(_build(_chat_handlers.get(name)), _build(_embedding_handlers.get(name)))
        litellm.custom_provider_map = [
            item for item in litellm.custom_provider_map if item.get("provider") != name
        ] + [{"provider": name, "custom_handler": handler}]
        _installed[name] = key
    custom_llm_setup()
    if _model_info:
        litellm.register_model({k: dict(v) for k, v in _model_info.items()})


def _combine(chat: Any, embedding: Any) -> Any:
    """One ``CustomLLM`` per provider name: completions go to ``chat``, embeddings to ``embedding``."""
    if embedding is None or chat is None or chat is embedding:
        return chat or embedding
    from litellm import CustomLLM

    class CombinedProvider(CustomLLM):
        def completion(self, *args: Any, **kwargs: Any) -> Any:
            return chat.completion(*args, **kwargs)

        def streaming(self, *args: Any, **kwargs: Any) -> Any:
            return chat.streaming(*args, **kwargs)

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            return await chat.acompletion(*args, **kwargs)

        def astreaming(self, *args: Any, **kwargs: Any) -> Any:
            return chat.astreaming(*args, **kwargs)

        def embedding(self, *args: Any, **kwargs: Any) -> Any:
            return embedding.embedding(*args, **kwargs)

        async def aembedding(self, *args: Any, **kwargs: Any) -> Any:
            return await embedding.aembedding(*args, **kwargs)

    return CombinedProvider()
