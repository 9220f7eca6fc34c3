"""Validation steps: refuse bad input before anything else runs, and check the context window.

:class:`Validate` is the first step: the request's shape and parameters, the allowed models, the
per-call options and the guardrail level; it completes the call with the model, the level and
the cache key. :class:`ContextWindow` runs after the cache lookup (a hit needs no count): a prompt
that cannot fit is :class:`ContextWindowExceeded` before any provider call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from motadata_ai.domain.gateway import caching
from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.guardrails import LEVELS, OutputSchema, compile_schema
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.llm import ContextWindowExceeded, LLMPort, UnknownModel

__all__ = ["ContextWindow", "Validate", "check_level", "check_model", "rough_tokens"]

_MAX_TEMPERATURE = 2.0
_MAX_OUTPUT_TOKENS = 1_000_000
_MAX_STOP = 16
_MAX_MESSAGES = 10_000


def rough_tokens(texts: Sequence[str]) -> int:
    """A token estimate before any model has counted: about four characters a token."""
    return sum(len(text) for text in texts) // 4 + 1


def check_model(model: str, policy: GatewayConfig) -> None:
    """Refuse an empty model name, or one the policy's ``allowed_models`` does not list."""
    if not model or not isinstance(model, str):
        raise ValidationError("model must be a non-empty string", field="model")
    allowed = policy.allowed_models
    if allowed is not None and model not in allowed:
        raise UnknownModel(
            f"model {model!r} is not configured; available: {', '.join(allowed) or 'none'}",
            model=model,
            available=list(allowed),
            field="model",
        )


def check_level(level: str) -> str:
    """``level`` when it is a guardrail level, else :class:`ValidationError`."""
    if level not in LEVELS:
        raise ValidationError(
            f"validation_level must be one of {', '.join(LEVELS)}, got {level!r}",
            field="validation_level",
        )
    return level


class Validate(Step):
    """Refuse bad input (``ValidationError`` with ``field``) and complete the call from it."""

    def __init__(self, *, has_cache: bool) -> None:
        self._has_cache = has_cache

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Check a completion; the key covers the response schema. An answer to a pydantic model
        schema (checked by the output guardrails, or from the cache) comes back ``parsed``."""
        call, request = self._chat(call, request)
        response = await next(call, request)
        schema = call.options.response_schema
        if isinstance(schema, OutputSchema) and schema.model is not None and response.parsed is None:
            parsed = schema.check(response.text).parsed
            if parsed is not None:
                return response.model_copy(update={"parsed": parsed})
        return response

    def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Check a stream (no response schema; the key exists only with the cache)."""
        call, request = self._chat(call, request)
        return next(call, request)

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Check the texts (a sequence of clean strings), the model and the options."""
        policy = call.policy
        texts = request.inputs
        if isinstance(texts, str):
            raise ValidationError("texts must be a sequence of strings, not one string", field="texts")
        if not isinstance(texts, tuple | list):
            raise ValidationError(
                f"texts must be a sequence of strings, got {type(texts).__name__}", field="texts"
            )
        if not texts:
            raise ValidationError("texts must not be empty", field="texts")
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValidationError(f"texts[{index}] is {type(text).__name__}, not str", field="texts")
            check_text(text, f"texts.{index}")
        model = request.model or policy.default_embedding_model
        check_model(model, policy)
        self._options(call)
        use_cache = (
            self._has_cache
            and policy.enable_caching
            and policy.cache_embeddings
            and not call.options.no_cache
        )
        key = (
            caching.embedding_key(call.tenant_id, model, texts)
            if use_cache or policy.request_deduplication
            else ""
        )
        if model != request.model:
            request = llm.EmbeddingRequest.model_construct(model=model, inputs=texts)
        call = call.completed(
            model=model, level=call.level, key=key, use_cache=use_cache, options=call.options
        )
        return await next(call, request)

    def _chat(self, call: Call, request: llm.ChatRequest) -> tuple[Call, llm.ChatRequest]:
        policy = call.policy
        request = self._request(request, policy)
        options = call.options
        level = check_level(options.validation_level or policy.validation_level)
        self._options(call)
        if options.response_schema is not None:
            options = replace(options, response_schema=compile_schema(options.response_schema))
        use_cache = self._has_cache and policy.enable_caching and not options.no_cache
        key = ""
        if call.kind == "chat" and (use_cache or policy.request_deduplication):
            variant = caching.schema_variant(level, options.response_schema, call.cache_user)
            key = caching.chat_key(call.tenant_id, request, variant=variant)
        elif call.kind == "stream" and use_cache:
            variant = caching.schema_variant(level, None, call.cache_user)
            key = caching.chat_key(call.tenant_id, request, variant=variant)
        call = call.completed(model=request.model, level=level, key=key, use_cache=use_cache, options=options)
        call.state.model = request.model
        return call, request

    @staticmethod
    def _options(call: Call) -> None:
        options = call.options
        ttl, max_retries, timeout = options.ttl, options.max_retries, options.timeout
        if ttl is not None and not 0 < ttl <= 365 * 86400:
            raise ValidationError(f"ttl must be within (0, 1 year] seconds, got {ttl}", field="ttl")
        if max_retries is not None and not 0 <= max_retries <= 20:
            raise ValidationError(f"max_retries must be within 0-20, got {max_retries}", field="max_retries")
        if timeout is not None and not 0 < timeout <= 3600:
            raise ValidationError(f"timeout must be within (0, 3600] seconds, got {timeout}", field="timeout")

    @staticmethod
    def _request(request: llm.ChatRequest, policy: GatewayConfig) -> llm.ChatRequest:
        if not isinstance(request, llm.ChatRequest):
            raise ValidationError(
                f"request must be a llm.ChatRequest, got {type(request).__name__}", field="request"
            )
        if not request.messages:
            raise ValidationError("messages must not be empty", field="messages", model=request.model)
        if len(request.messages) > _MAX_MESSAGES:
            raise ValidationError(f"at most {_MAX_MESSAGES} messages are allowed", field="messages")
        if not request.model:
            request = request.model_copy(update={"model": policy.default_model})
        t = request.temperature
        if t is not None and not 0.0 <= t <= _MAX_TEMPERATURE:
            raise ValidationError(
                f"temperature must be within 0-{_MAX_TEMPERATURE}, got {t}", field="temperature"
            )
        p = request.top_p
        if p is not None and not 0.0 < p <= 1.0:
            raise ValidationError(f"top_p must be within (0, 1], got {p}", field="top_p")
        m = request.max_tokens
        if m is not None and not 1 <= m <= _MAX_OUTPUT_TOKENS:
            raise ValidationError(
                f"max_tokens must be within 1-{_MAX_OUTPUT_TOKENS}, got {m}", field="max_tokens"
            )
        if len(request.stop) > _MAX_STOP:
            raise ValidationError(f"at most {_MAX_STOP} stop sequences are allowed", field="stop")
        if request.seed is not None and request.seed < 0:
            raise ValidationError(f"seed must not be negative, got {request.seed}", field="seed")
        if policy.allowed_models is not None:
            check_model(request.model, policy)
        response_format = request.response_format
        if response_format and response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            if isinstance(spec, dict) and spec.get("schema") is not None:
                compile_schema(spec["schema"])
        return request


class ContextWindow(Step):
    """Refuse a prompt that cannot fit the model's window; note the counted prompt tokens."""

    def __init__(self, chat: LLMPort) -> None:
        self._llm = chat

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Check, then complete."""
        call.state.prompt_tokens = self._check(request)
        return await next(call, request)

    def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Check, then stream."""
        call.state.prompt_tokens = self._check(request)
        return next(call, request)

    def _check(self, request: llm.ChatRequest) -> int | None:
        window = self._llm.context_window(request.model)
        if window is None:
            return None
        reserve = request.max_tokens or 0
        chars = sum(len(m.content or "") for m in request.messages)
        if chars + reserve <= window:  # a token is at least one character: it fits, no need to count
            return None
        text = "\n".join(m.content or "" for m in request.messages)
        tokens = self._llm.count_tokens(request.model, text)
        if tokens + reserve > window:
            raise ContextWindowExceeded(
                f"prompt of {tokens} tokens plus max_tokens {reserve} exceeds the {window}-token context "
                f"window of {request.model}",
                model=request.model,
                prompt_tokens=tokens,
                max_tokens=reserve,
                context_window=window,
                field="messages",
            )
        return tokens
