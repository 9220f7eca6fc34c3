"""Model-prefix routing for the LLM and embedding ports: ``local/...`` to the in-process adapters,
every other model to the default adapter (LiteLLM), each built on first use.

The gateway sees one port and applies every policy (cache, limits, breaker, ledger...) to every
call; which adapter answers is decided here, by the provider prefix of the model name. An
adapter is given as a zero-argument factory, so a route that is never called never imports its
technology: the embedded default never imports LiteLLM.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from motadata_ai.domain.values.health import ComponentHealth, worst
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelCapabilities,
    StreamChunk,
)
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import LLMPort, ServerAddress

__all__ = ["ModelRoutedChat", "ModelRoutedEmbeddings", "Routes"]

Port = TypeVar("Port", LLMPort, EmbeddingPort)


def prefix_of(model: str) -> str:
    """The provider prefix of a model name (``local/extractive`` -> ``local``; none -> ``""``)."""
    return model.split("/", 1)[0] if "/" in model else ""


class Routes(Generic[Port]):
    """Adapters by model prefix plus a default, each built once, on first use (thread-safe)."""

    def __init__(self, routes: Mapping[str, Callable[[], Port]], default: Callable[[], Port]) -> None:
        self._factories = dict(routes)
        self._default = default
        self._built: dict[str, Port] = {}
        self._lock = threading.Lock()

    def prefixes(self) -> list[str]:
        """The prefixes with their own adapter."""
        return sorted(self._factories)

    def key(self, model: str) -> str:
        """The route a model takes: its prefix when routed, else ``""`` (the default)."""
        prefix = prefix_of(model)
        return prefix if prefix in self._factories else ""

    def for_model(self, model: str) -> Port:
        """The adapter serving ``model`` (built now if it was not yet)."""
        key = self.key(model)
        adapter = self._built.get(key)
        if adapter is None:
            with self._lock:
                adapter = self._built.get(key)
                if adapter is None:
                    adapter = self._factories[key]() if key else self._default()
                    self._built[key] = adapter
        return adapter

    def built_for(self, model: str) -> Port | None:
        """The adapter serving ``model`` if it is built, else ``None`` (never builds one)."""
        return self._built.get(self.key(model))

    def built(self) -> list[Port]:
        """The adapters built so far."""
        return list(self._built.values())

    async def aclose(self) -> None:
        """Close every adapter built."""
        for adapter in self.built():
            await adapter.aclose()

    async def health(self) -> ComponentHealth:
        """The worst of the built adapters' probes, each under its route (``default`` for the
        default adapter) in ``details["routes"]``; a route not built yet is not probed."""
        built = list(self._built.items())
        reports = await asyncio.gather(*(adapter.health() for _, adapter in built))
        routes = {
            key or "default": {"adapter": type(adapter).__name__, **report.model_dump(mode="json")}
            for (key, adapter), report in zip(built, reports, strict=True)
        }
        failed = [
            f"{key or 'default'}: {r.error}" for (key, _), r in zip(built, reports, strict=True) if r.error
        ]
        return ComponentHealth(
            status=worst([r.status for r in reports]),
            latency_ms=max((r.latency_ms for r in reports), default=0.0),
            details={"probe": "routes", "routes": routes},
            error="; ".join(failed) or None,
        )

    def warm_up(self, models: Iterable[str]) -> None:
        """Build the adapters of ``models`` and let each prepare itself (blocking: run it on a
        worker thread). An adapter prepares by its optional ``warm_up()``: loading weights,
        importing its SDK."""
        for model in models:
            adapter: Any = self.for_model(model)
            warm = getattr(adapter, "warm_up", None)
            if callable(warm):
                warm()


class ModelRoutedChat(LLMPort):
    """An :class:`LLMPort` that sends each request to the adapter of its model's prefix."""

    def __init__(self, routes: Mapping[str, Callable[[], LLMPort]], default: Callable[[], LLMPort]) -> None:
        self.routes: Routes[LLMPort] = Routes(routes, default)

    def __repr__(self) -> str:
        return f"ModelRoutedChat(routes={self.routes.prefixes()})"

    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        """The routed adapter's completion."""
        return await self.routes.for_model(request.model).complete(request, timeout=timeout)

    async def stream(
        self, request: ChatRequest, *, timeout: float | None = None
    ) -> AsyncIterator[StreamChunk]:
        """The routed adapter's stream."""
        async for chunk in self.routes.for_model(request.model).stream(request, timeout=timeout):
            yield chunk

    def capabilities(self, model: str) -> ModelCapabilities:
        """The routed adapter's answer."""
        return self.routes.for_model(model).capabilities(model)

    def context_window(self, model: str) -> int | None:
        """The routed adapter's answer."""
        return self.routes.for_model(model).context_window(model)

    def server_address(self, model: str) -> ServerAddress | None:
        """The routed adapter's answer, once it is built (asking never builds one)."""
        adapter = self.routes.built_for(model)
        return adapter.server_address(model) if adapter is not None else None

    async def health(self) -> ComponentHealth:
        """The probes of the adapters built so far (see :meth:`Routes.health`)."""
        return await self.routes.health()

    def count_tokens(self, model: str, text: str) -> int:
        """The routed adapter's answer."""
        return self.routes.for_model(model).count_tokens(model, text)

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """The routed adapter's answer."""
        return self.routes.for_model(model).cost_usd(model, input_tokens, output_tokens)

    def canonical_model(self, model: str) -> str:
        """A prefixed name as it is (no adapter is built to name it); a bare one as the default
        adapter qualifies it."""
        if prefix_of(model):
            return model
        return self.routes.for_model(model).canonical_model(model)

    async def prepare(self, models: Iterable[str]) -> None:
        """Build and warm up the adapters of ``models`` on a worker thread."""
        await asyncio.to_thread(self.routes.warm_up, list(models))

    async def aclose(self) -> None:
        """Close the adapters built."""
        await self.routes.aclose()


class ModelRoutedEmbeddings(EmbeddingPort):
    """An :class:`EmbeddingPort` that sends each request to the adapter of its model's prefix."""

    def __init__(
        self, routes: Mapping[str, Callable[[], EmbeddingPort]], default: Callable[[], EmbeddingPort]
    ) -> None:
        self.routes: Routes[EmbeddingPort] = Routes(routes, default)

    def __repr__(self) -> str:
        return f"ModelRoutedEmbeddings(routes={self.routes.prefixes()})"

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        """The routed adapter's vectors."""
        return await self.routes.for_model(request.model).embed(request, timeout=timeout)

    def dimensions(self, model: str) -> int | None:
        """The routed adapter's answer."""
        return self.routes.for_model(model).dimensions(model)

    def server_address(self, model: str) -> ServerAddress | None:
        """The routed adapter's answer, once it is built (asking never builds one)."""
        adapter = self.routes.built_for(model)
        return adapter.server_address(model) if adapter is not None else None

    async def health(self) -> ComponentHealth:
        """The probes of the adapters built so far (see :meth:`Routes.health`)."""
        return await self.routes.health()

    async def prepare(self, models: Iterable[str]) -> None:
        """Build and warm up the adapters of ``models`` on a worker thread."""
        await asyncio.to_thread(self.routes.warm_up, list(models))

    async def aclose(self) -> None:
        """Close the adapters built."""
        await self.routes.aclose()
