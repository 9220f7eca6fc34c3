"""Telemetry step: a span per call and the GenAI metrics, as a wrapper around the whole chain.

Span ``chat {model}`` / ``embeddings {model}`` with the OpenTelemetry GenAI attributes, the
tenant, where the answer came from, and why the call was made (``motadata.request.id``,
``motadata.request.operation``, ``motadata.gateway.purpose``, and ``gen_ai.conversation.id`` when
the request belongs to a conversation); ``server.address``/``server.port`` of the server that
answered, when its port knows it (none for an in-process model or a cache hit); metrics
``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` and the cache hit/miss
counters. Without a telemetry port the step is left out of the chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from motadata_ai.domain.gateway.call import Call, provider_of
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.gateway.steps.ledger import outcome_of
from motadata_ai.domain.values import llm
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import LLMPort
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, AttributeValue, SpanHandle, TelemetryPort

__all__ = ["TelemetryStep"]

T = TypeVar("T")


class TelemetryStep(Step):
    """Spans and GenAI metrics (see the module docstring); ``llm`` and ``embeddings`` name the
    servers behind the models (:meth:`~motadata_ai.ports.llm.LLMPort.server_address`)."""

    def __init__(
        self,
        telemetry: TelemetryPort,
        *,
        clock: Callable[[], float],
        llm: LLMPort | None = None,
        embeddings: EmbeddingPort | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._clock = clock
        self._llm = llm
        self._embeddings = embeddings

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Trace one completion."""
        with self._span(call, "chat", request) as span:
            response = await self._traced(call, span, next(call, request))
            self._chat(call, span, response)
            return response

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Trace one embedding call."""
        with self._span(call, "embeddings") as span:
            response = await self._traced(call, span, next(call, request))
            hit = call.state.source != "provider"
            self._server(call, span, call.state.model or call.model)
            span.set_attribute("gen_ai.usage.input_tokens", response.usage.input_tokens)
            span.set_attribute("motadata.cache.hit", hit)
            self._metrics(call, response.model, response.usage, hit, None)
            return response

    async def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Trace one stream (``gen_ai.request.stream``)."""
        with self._span(call, "chat", request) as span:
            span.set_attribute("gen_ai.request.stream", True)
            try:
                async for chunk in next(call, request):
                    yield chunk
            except BaseException as error:
                self._failed(call, span, error)
                raise
            if call.state.response is not None:
                self._chat(call, span, call.state.response)

    async def _traced(self, call: Call, span: SpanHandle, answer: Awaitable[T]) -> T:
        try:
            return await answer
        except BaseException as error:
            self._failed(call, span, error)
            raise

    def _span(self, call: Call, operation: str, request: llm.ChatRequest | None = None) -> Any:
        origin = call.origin
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": call.model,
            "gen_ai.provider.name": provider_of(call.model) or "unknown",
            TENANT_ATTRIBUTE: call.tenant_id,
            "motadata.request.id": origin.request_id,
            "motadata.request.operation": origin.operation,
            "motadata.gateway.purpose": call.purpose,
        }
        if call.user_id:
            attributes["enduser.id"] = call.user_id
        if origin.conversation_id:
            attributes["gen_ai.conversation.id"] = origin.conversation_id
        if request is not None:  # the request parameters the GenAI conventions name, when set
            for name, value in (
                ("gen_ai.request.max_tokens", request.max_tokens),
                ("gen_ai.request.temperature", request.temperature),
                ("gen_ai.request.top_p", request.top_p),
            ):
                if value is not None:
                    attributes[name] = value
        return self._telemetry.span(f"{operation} {call.model}", attributes=attributes, kind="client")

    def _chat(self, call: Call, span: SpanHandle, response: llm.ChatResponse) -> None:
        source = call.state.source
        hit = source != "provider"
        usage = response.usage
        self._server(call, span, call.state.model or call.model)
        span.set_attribute("gen_ai.response.model", response.model)
        span.set_attribute("gen_ai.response.id", response.id)
        span.set_attribute(
            "gen_ai.provider.name", response.provider or provider_of(response.model) or "unknown"
        )
        span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason or "unknown"])
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        span.set_attribute("motadata.cache.hit", hit)
        span.set_attribute("motadata.gateway.source", source)
        span.set_attribute("motadata.cost.usd", response.cost_usd if not hit else 0.0)
        self._metrics(call, response.model, usage, hit, None)

    def _server(self, call: Call, span: SpanHandle, model: str) -> None:
        """``server.address``/``server.port`` of the server ``model`` was sent to (a provider call
        only: a cached or de-duplicated answer reached no server)."""
        if call.state.source != "provider":
            return
        port: LLMPort | EmbeddingPort | None = self._embeddings if call.kind == "embed" else self._llm
        server = port.server_address(model) if port is not None and model else None
        if server is None:
            return
        span.set_attribute("server.address", server.address)
        if server.port is not None:
            span.set_attribute("server.port", server.port)

    def _failed(self, call: Call, span: SpanHandle, error: BaseException) -> None:
        self._server(call, span, call.state.model or call.model)
        span.set_attribute("error.type", type(error).__name__)
        span.set_attribute("motadata.gateway.outcome", outcome_of(error, call))
        self._metrics(call, call.state.model or call.model, llm.Usage(), False, type(error).__name__)

    def _metrics(self, call: Call, model: str, usage: llm.Usage, hit: bool, error: str | None) -> None:
        telemetry = self._telemetry
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": call.ledger_operation,
            "gen_ai.request.model": call.model,
            "gen_ai.response.model": model,
            "gen_ai.provider.name": provider_of(model) or "unknown",
            TENANT_ATTRIBUTE: call.tenant_id,
            "motadata.cache.hit": hit,
        }
        if error is not None:
            attributes["error.type"] = error
        elapsed = self._clock() - call.started
        telemetry.record_histogram(
            "gen_ai.client.operation.duration", elapsed, unit="s", attributes=attributes
        )
        if not hit and error is None:
            for kind, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
                if count:
                    telemetry.record_histogram(
                        "gen_ai.client.token.usage",
                        count,
                        unit="{token}",
                        attributes={**attributes, "gen_ai.token.type": kind},
                    )
        telemetry.add_counter(
            "motadata.gateway.cache.hits" if hit else "motadata.gateway.cache.misses",
            1,
            attributes={TENANT_ATTRIBUTE: call.tenant_id},
        )
