"""LiteLLMChat: the LLM port over ``litellm.acompletion`` (any provider LiteLLM speaks).

Plain calls only; the gateway adds caching, limits, retries and fallbacks. LiteLLM's own retries
are off (``max_retries=0``) so one port call is one provider request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from motadata_ai.adapters.litellm._runtime import custom_providers, load_litellm
from motadata_ai.adapters.litellm.errors import translate_error
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, StreamChunk, ToolCall, Usage
from motadata_ai.ports.llm import LLMPort, ProviderError, ProviderTimeout

_TIMEOUT_MARGIN = 1.0  # the hard guard fires this long after LiteLLM's own timeout
_PER_MILLION = 1_000_000.0


def message_to_openai(message: Message) -> dict[str, Any]:
    """A port message as the OpenAI wire dict."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def provider_of(model: str) -> str:
    """The provider prefix of a LiteLLM model name (``openai/gpt-4o`` -> ``openai``)."""
    if "/" in model:
        return model.split("/", 1)[0]
    return _guess_provider(model)


_provider_cache: dict[str, str] = {}


def _guess_provider(model: str) -> str:
    cached = _provider_cache.get(model)
    if cached is None:
        litellm = load_litellm()
        try:
            cached = str(litellm.get_llm_provider(model)[1])
        except Exception:
            cached = "unknown"
        _provider_cache[model] = cached
    return cached


class _ModelCatalog:
    """Prices, context windows and token counting from LiteLLM's model map, cached per model."""

    def __init__(self, model_prices: Mapping[str, tuple[float, float]] | None) -> None:
        self._prices: dict[str, tuple[float, float]] = {
            model: (input_price / _PER_MILLION, output_price / _PER_MILLION)
            for model, (input_price, output_price) in (model_prices or {}).items()
        }
        self._info: dict[str, dict[str, Any] | None] = {}

    def info(self, model: str) -> dict[str, Any] | None:
        if model in self._info:
            return self._info[model]
        litellm = load_litellm()
        found: dict[str, Any] | None = None
        for name in (model, model.split("/", 1)[-1]):
            entry = litellm.model_cost.get(name)
            if entry:
                found = dict(entry)
                break
        if found is None:
            try:
                found = dict(litellm.get_model_info(model))
            except Exception:
                found = None
        self._info[model] = found
        return found

    def per_token_prices(self, model: str) -> tuple[float, float]:
        if model in self._prices:
            return self._prices[model]
        info = self.info(model) or {}
        prices = (
            float(info.get("input_cost_per_token") or 0.0),
            float(info.get("output_cost_per_token") or 0.0),
        )
        self._prices[model] = prices
        return prices

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        input_price, output_price = self.per_token_prices(model)
        return input_tokens * input_price + output_tokens * output_price

    def context_window(self, model: str) -> int | None:
        info = self.info(model) or {}
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window) if window else None

    def count_tokens(self, model: str, text: str) -> int:
        if not text:
            return 0
        litellm = load_litellm()
        try:
            return int(litellm.token_counter(model=model, text=text))
        except Exception:
            import tiktoken

            return len(tiktoken.get_encoding("cl100k_base").encode(text))


class LiteLLMChat(LLMPort):
    """Chat completions through LiteLLM: ``model`` is any LiteLLM model name.

    ``api_base``/``api_key`` point every call at one server (e.g. an OpenAI-compatible endpoint
    with ``model="openai/<name>"``); ``timeout`` is the default per call; ``model_prices`` maps a
    model to ``(input, output)`` USD per million tokens for models LiteLLM has no price for (or to
    override it); ``extra`` is passed to every ``litellm.acompletion`` call.
    """

    def __init__(
        self,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        model_prices: dict[str, tuple[float, float]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._api_base = api_base
        self._api_key = api_key
        self._timeout = timeout
        self._extra = dict(extra or {})
        self._catalog = _ModelCatalog(model_prices)

    def __repr__(self) -> str:
        return f"LiteLLMChat(api_base={self._api_base!r}, timeout={self._timeout})"

    # --- request building ------------------------------------------------------------------------
    def _kwargs(self, request: ChatRequest, timeout: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": [message_to_openai(m) for m in request.messages],
            "timeout": timeout,
            "max_retries": 0,
        }
        if self._api_base is not None:
            kwargs["api_base"] = self._api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
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

    def _fail(self, error: BaseException, model: str) -> ProviderError:
        return translate_error(
            error,
            model=model,
            provider=provider_of(model),
            api_base=self._api_base,
            available=custom_providers(),
        )

    # --- port ------------------------------------------------------------------------------------
    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        """Run one completion through ``litellm.acompletion``."""
        litellm = load_litellm()
        limit = timeout or self._timeout
        kwargs = self._kwargs(request, limit)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit + _TIMEOUT_MARGIN):
                response = await litellm.acompletion(**kwargs)
        except TimeoutError as error:
            raise ProviderTimeout(
                f"{request.model}: no answer within {limit:g} s",
                model=request.model,
                provider=provider_of(request.model),
                status_code=None,
                address=None,
            ) from error
        except Exception as error:
            raise self._fail(error, request.model) from error
        latency_ms = (time.perf_counter() - started) * 1000.0
        return self._to_response(request, response, latency_ms)

    def _to_response(self, request: ChatRequest, response: Any, latency_ms: float) -> ChatResponse:
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
        litellm = load_litellm()
        limit = timeout or self._timeout
        kwargs = self._kwargs(request, limit)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        calls: dict[int, dict[str, str]] = {}
        finish_reason: str | None = None
        usage: Usage | None = None
        output_text: list[str] = []
        try:
            async with asyncio.timeout(limit + _TIMEOUT_MARGIN):
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
        except TimeoutError as error:
            raise ProviderTimeout(
                f"{request.model}: no answer within {limit:g} s",
                model=request.model,
                provider=provider_of(request.model),
                status_code=None,
                address=None,
            ) from error
        except Exception as error:
            raise self._fail(error, request.model) from error
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
