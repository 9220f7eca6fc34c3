"""LiteLLMChat: the LLM port over ``litellm.acompletion`` (any provider LiteLLM speaks).

Plain calls only; the gateway adds caching, limits, retries and fallbacks. LiteLLM's own retries
are off (``max_retries=0``) so one port call is one provider request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from motadata_ai.adapters.litellm._adapter import TIMEOUT_MARGIN, LiteLLMAdapter, provider_of
from motadata_ai.adapters.litellm._runtime import custom_providers
from motadata_ai.adapters.openai_wire import message_to_openai
from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    Message,
    ModelCapabilities,
    StreamChunk,
    ToolCall,
    Usage,
)
from motadata_ai.ports.llm import LLMPort, ProviderInvalidResponse

__all__ = ["LiteLLMChat", "message_to_openai", "provider_of"]


EXTRACTIVE_CUSTOM_PROVIDER = "local"
"""The custom-provider name under which ``LocalChatProvider`` serves extractive answers."""


class LiteLLMChat(LiteLLMAdapter, LLMPort):
    """Chat completions through LiteLLM: ``model`` is any LiteLLM model name.

    ``api_base``/``api_key`` point every call at one server (e.g. an OpenAI-compatible endpoint
    with ``model="openai/<name>"``); ``timeout`` is the default per call; ``model_prices`` maps a
    model to ``(input, output)`` USD per million tokens for models LiteLLM has no price for (or to
    override it); ``extra`` is passed to every ``litellm.acompletion`` call.
    """

    # --- request building ------------------------------------------------------------------------
    def _kwargs(self, request: ChatRequest, timeout: float) -> dict[str, Any]:
        kwargs = self._call_kwargs(request.model, timeout)
        kwargs["messages"] = [message_to_openai(m) for m in request.messages]
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            if provider_of(request.model) == EXTRACTIVE_CUSTOM_PROVIDER:
                # the in-process extractive provider picks the search tool by its declared role
                for spec, tool in zip(request.tools, kwargs["tools"], strict=True):
                    tool["role"] = spec.role
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
        for name in ("temperature", "top_p", "max_tokens", "seed", "response_format"):
            value = getattr(request, name)
            if value is not None:
                kwargs[name] = value
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if self._extra:
            kwargs.update(self._extra)
        if request.extra:
            kwargs.update(request.extra)
        return kwargs

    # --- port ------------------------------------------------------------------------------------
    def capabilities(self, model: str) -> ModelCapabilities:
        """Generative with tools and streams, except the in-process extractive provider registered
        as a LiteLLM custom provider under ``local/`` (the adapter knows its own routes)."""
        extractive = EXTRACTIVE_CUSTOM_PROVIDER
        if provider_of(model) == extractive and extractive in custom_providers():
            return ModelCapabilities(generative=False, extractive=True)
        return ModelCapabilities()

    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        """Run one completion through ``litellm.acompletion``."""
        limit = timeout or self._timeout
        try:
            litellm, remaining = await self._prepare(limit)
        except TimeoutError as error:
            raise self._failure(error, request.model, limit, "answer") from error
        kwargs = self._kwargs(request, remaining)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(remaining + TIMEOUT_MARGIN):
                response = await litellm.acompletion(**kwargs)
        except Exception as error:
            raise self._failure(error, request.model, limit, "answer") from error
        latency_ms = (time.perf_counter() - started) * 1000.0
        return self._to_response(request, response, latency_ms)

    def _to_response(self, request: ChatRequest, response: Any, latency_ms: float) -> ChatResponse:
        """The port response; an answer that holds no usable completion is a provider error."""
        try:
            return self._convert(request, response, latency_ms)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
            choices = getattr(response, "choices", None)
            what = (
                "no choices" if not choices else f"a malformed completion ({type(error).__name__}: {error})"
            )
            raise ProviderInvalidResponse(
                f"{request.model}: the provider answered with {what}",
                model=request.model,
                provider=provider_of(request.model),
                status_code=200,
                address=mask_url(self._api_base) if self._api_base else None,
            ) from error

    def _convert(self, request: ChatRequest, response: Any, latency_ms: float) -> ChatResponse:
        choice = response.choices[0]
        raw = choice.message
        calls = tuple(
            ToolCall(
                id=c.id or f"call_{i}", name=c.function.name or "", arguments=c.function.arguments or "{}"
            )
            for i, c in enumerate(raw.tool_calls or ())
        )
        usage = getattr(response, "usage", None)
        input_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        output_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return ChatResponse(
            id=str(response.id),
            model=str(response.model or request.model),
            provider=provider_of(request.model),
            message=Message(role="assistant", content=raw.content, tool_calls=calls),
            finish_reason=choice.finish_reason,
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
            cost_usd=self._catalog.cost(request.model, input_tokens, output_tokens),
            latency_ms=latency_ms,
        )

    async def stream(
        self,
        request: ChatRequest,
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """Stream through ``litellm.acompletion(stream=True)``; tool-call deltas come back whole.

        Text arrives as ``StreamChunk(delta=...)``; the last chunk carries the reassembled tool
        calls, the finish reason and the usage.
        """
        limit = timeout or self._timeout
        try:
            litellm, remaining = await self._prepare(limit)
        except TimeoutError as error:
            raise self._failure(error, request.model, limit, "answer") from error
        kwargs = self._kwargs(request, remaining)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        calls: dict[int, dict[str, str]] = {}
        finish_reason: str | None = None
        usage: Usage | None = None
        output_text: list[str] = []
        answered = False
        try:
            async with asyncio.timeout(remaining + TIMEOUT_MARGIN):
                stream = await litellm.acompletion(**kwargs)
            async for chunk in stream:
                chunk_usage = getattr(chunk, "usage", None)
                if chunk_usage is not None and (chunk_usage.prompt_tokens or chunk_usage.completion_tokens):
                    usage = Usage(
                        input_tokens=int(chunk_usage.prompt_tokens or 0),
                        output_tokens=int(chunk_usage.completion_tokens or 0),
                    )
                if not chunk.choices:
                    continue
                answered = True
                choice = chunk.choices[0]
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
                delta = choice.delta
                if delta is None:
                    continue
                for call in getattr(delta, "tool_calls", None) or ():
                    index = int(getattr(call, "index", 0) or 0)
                    slot = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
                    if call.id:
                        slot["id"] = call.id
                    function = call.function
                    if function is not None:
                        if function.name:
                            slot["name"] = function.name
                        if function.arguments:
                            slot["arguments"] += function.arguments
                if delta.content:
                    output_text.append(delta.content)
                    yield StreamChunk(delta=delta.content)
        except Exception as error:
            raise self._failure(error, request.model, limit, "answer") from error
        if not answered:
            raise ProviderInvalidResponse(
                f"{request.model}: the provider's stream held no choices",
                model=request.model,
                provider=provider_of(request.model),
                status_code=200,
                address=mask_url(self._api_base) if self._api_base else None,
            )
        tool_calls = tuple(
            ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=slot["arguments"] or "{}")
            for index, slot in sorted(calls.items())
        )
        if usage is None:
            prompt = " ".join(m.content or "" for m in request.messages)
            usage = Usage(
                input_tokens=self.count_tokens(request.model, prompt),
                output_tokens=self.count_tokens(request.model, "".join(output_text)),
            )
        yield StreamChunk(
            tool_calls=tool_calls,
            finish_reason=finish_reason or ("tool_calls" if tool_calls else "stop"),
            usage=usage,
        )

    def context_window(self, model: str) -> int | None:
        """``max_input_tokens`` from LiteLLM's model map (``None`` when unknown)."""
        return self._catalog.context_window(model)

    def count_tokens(self, model: str, text: str) -> int:
        """Tokens of ``text`` with the model's tokenizer (``litellm.token_counter``; tiktoken fallback)."""
        return self._catalog.count_tokens(model, text)

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """Cost from ``model_prices`` or LiteLLM's cost map (0 when neither knows the model)."""
        return self._catalog.cost(model, input_tokens, output_tokens)
