"""Gateway use-case: generate, stream and embed for a tenant, through every policy.

Pipeline of a call (each step skipped when switched off)::

    validate input (empty messages, parameters, allowed models)
    → cache lookup (exact, then semantic)              hit: ledger + telemetry, return
    → context-window check → input guardrails (size, PII redaction, injection screening)
    → budget → rate limit (tenant and tenant+model buckets: requests, tokens)
    → in-flight de-duplication (identical concurrent requests share one provider call)
    → for each model in [model, *fallbacks]: circuit breaker → provider call with retries
      (exponential backoff and jitter)
    → output guardrails (content filter, PII, JSON schema) → cache store
    → usage and cost ledger → feedback hook

Everything outside the process (cache, limits, ledger, audit, telemetry, clock, sleep, randomness)
comes in through the constructor.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from motadata_ai.domain.gateway import caching
from motadata_ai.domain.gateway.circuit_cache import CacheBypassed, CircuitCache
from motadata_ai.domain.gateway.config import GatewayConfig, TenantPolicy
from motadata_ai.domain.gateway.errors import (
    BudgetExceeded,
    CircuitOpen,
    GuardrailViolation,
    RateLimited,
    RetriesExhausted,
)
from motadata_ai.domain.gateway.fallback_limits import UNAVAILABLE, FallbackLimits
from motadata_ai.domain.gateway.limits import (
    LocalLimits,
    bucket_key,
    bucket_scope,
    circuit_key,
    circuit_label,
)
from motadata_ai.domain.gateway.outcomes import breaker_verdict, is_caller_deadline
from motadata_ai.domain.gateway.store_circuit import StoreCircuit
from motadata_ai.domain.guardrails import LEVELS, ResponseSchema, check_input, check_output, compile_schema
from motadata_ai.domain.guardrails.context import ContextCheck, ContextGuard, ContextOrigin
from motadata_ai.domain.privacy.cache_policy import cacheable, request_texts, user_index_key
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.errors import NotFound, ServiceError, ValidationError
from motadata_ai.domain.values.limits import BreakerDecision, BreakerState, BucketSpec
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    ModelCapabilities,
    StreamChunk,
    ToolCall,
    Usage,
)
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.domain.values.usage import AuditEvent, FeedbackRecord, Outcome, Source, UsageRecord
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.ports.llm import (
    RETRYABLE_PROVIDER_ERRORS,
    ContextWindowExceeded,
    LLMPort,
    ProviderBadRequest,
    ProviderError,
    UnknownModel,
)
from motadata_ai.ports.telemetry import TelemetryPort

__all__ = ["Gateway", "GatewayHealth", "GatewayStats"]

log = logging.getLogger("motadata_ai.gateway")
T = TypeVar("T")

_MAX_TEMPERATURE = 2.0
_MAX_OUTPUT_TOKENS = 1_000_000
_MAX_STOP = 16
_MAX_MESSAGES = 10_000
_RETRY_AFTER_CAP = 60.0
FeedbackHook = Callable[[UsageRecord, "ChatResponse | None"], "Awaitable[None] | None"]


def _rough_tokens(texts: Iterable[str]) -> int:
    """A token estimate before any model has counted: about four characters a token."""
    return sum(len(text) for text in texts) // 4 + 1


@dataclass
class GatewayStats:
    """In-process counters since start (the ledger holds the durable figures)."""

    calls: int = 0
    cache_lookups: int = 0
    cache_hits: int = 0
    semantic_lookups: int = 0
    semantic_hits: int = 0
    dedup_hits: int = 0
    provider_calls: int = 0
    cache_errors: int = 0
    limits_errors: int = 0
    ledger_errors: int = 0

    @property
    def cache_hit_rate(self) -> float:
        """Exact and semantic hits over lookups."""
        return self.cache_hits / self.cache_lookups if self.cache_lookups else 0.0

    @property
    def semantic_hit_rate(self) -> float:
        """Semantic hits over semantic lookups (those after an exact miss)."""
        return self.semantic_hits / self.semantic_lookups if self.semantic_lookups else 0.0


@dataclass
class GatewayHealth:
    """Breaker states and whether the cache, limits store and ledger answer.

    ``stores`` is the state of the shared stores' own circuits (``{"cache": "closed", "limits":
    "open"}``): ``open`` means the store failed and is not asked until it is probed again.
    """

    status: str
    breakers: dict[str, str] = field(default_factory=dict)
    cache: bool | None = None
    limits: bool | None = None
    ledger: bool | None = None
    stores: dict[str, str] = field(default_factory=dict)
    pending_ledger_writes: int = 0
    cache_hit_rate: float = 0.0
    semantic_hit_rate: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Call:
    """What one gateway call has learned so far (for the ledger and telemetry)."""

    tenant_id: str
    user_id: str | None
    operation: str
    model: str
    started: float
    attempts: list[dict[str, Any]] = field(default_factory=list)
    source: Source = "provider"

    @property
    def provider_attempts(self) -> int:
        """Provider calls made (breaker refusals and blocked answers are not calls)."""
        return sum(1 for a in self.attempts if "attempt" in a and a.get("error") != "CircuitOpen")


class Gateway:
    """Every LLM call and embedding of a tenant goes through here.

    Only ``llm`` and ``embeddings`` are required. Without ``cache`` nothing is cached; without
    ``limits`` rate limits and breakers hold in this process; without ``ledger`` no usage is
    stored (budgets then count this process's spend only); without ``audit`` guardrail events are
    only logged; without ``telemetry`` nothing is traced.

    A ``cache`` or ``limits`` is put behind its own circuit (:class:`CircuitCache`,
    :class:`FallbackLimits` with ``limits_failure_policy``) unless it already is one, so a shared
    store that fails is left alone for a short, growing interval instead of costing a socket
    timeout on every call.
    """

    def __init__(
        self,
        *,
        llm: LLMPort,
        embeddings: EmbeddingPort,
        config: GatewayConfig | None = None,
        default_model: str | None = None,
        default_embedding_model: str | None = None,
        cache: CachePort | None = None,
        limits: LimitsPort | None = None,
        ledger: UsageLedgerPort | None = None,
        audit: AuditLogPort | None = None,
        telemetry: TelemetryPort | None = None,
        feedback_hook: FeedbackHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        config = config or GatewayConfig()
        updates: dict[str, Any] = {}
        if default_model is not None:
            updates["default_model"] = default_model
        if default_embedding_model is not None:
            updates["default_embedding_model"] = default_embedding_model
        self.config = config.model_copy(update=updates) if updates else config
        self._llm = llm
        self._embeddings = embeddings
        if cache is not None and not isinstance(cache, CircuitCache):
            cache = CircuitCache(cache, circuit=StoreCircuit(clock=clock))
        if limits is not None and not isinstance(limits, FallbackLimits):
            limits = FallbackLimits(
                limits,
                local=LocalLimits(clock=clock),
                policy=self.config.limits_failure_policy,
                circuit=StoreCircuit(clock=clock),
            )
        self._cache = cache
        self._limits: LimitsPort = limits or LocalLimits(clock=clock)
        self._ledger = ledger
        self._audit = audit
        self._telemetry = telemetry
        self._feedback_hook = feedback_hook
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._wall_clock = wall_clock
        self._policies: dict[str, GatewayConfig] = {}
        self._tenants: dict[str, TenantContext] = {}
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._semantic = caching.SemanticIndex(max_entries=self.config.semantic_cache_max_entries)
        self._spend: dict[
            tuple[str, str], tuple[float, float, float]
        ] = {}  # (tenant, period) -> (since-key, spent, read_at)
        self._pending: list[UsageRecord] = []
        self._writer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._stats = GatewayStats()

    # ------------------------------------------------------------------ properties and policy

    @property
    def stats(self) -> GatewayStats:
        """In-process counters since start (``limits_errors``: failures of the limits store)."""
        if isinstance(self._limits, FallbackLimits):
            self._stats.limits_errors = self._limits.counters.failures
        return self._stats

    @property
    def default_model(self) -> str:
        """The chat model used when a request names none."""
        return self.config.default_model

    @property
    def default_embedding_model(self) -> str:
        """The embedding model used when a call names none."""
        return self.config.default_embedding_model

    def capabilities(self, model: str | None = None) -> ModelCapabilities:
        """What ``model`` (default: :attr:`default_model`) can do, as the LLM port advertises it."""
        return self._llm.capabilities(model or self.config.default_model)

    def set_tenant_policy(self, tenant: TenantContext | str, policy: TenantPolicy | None) -> None:
        """Override (or with ``None`` reset) one tenant's policy at run time."""
        tenant_id = self._context(tenant).tenant_id
        tenants = dict(self.config.tenants)
        if policy is None:
            tenants.pop(tenant_id, None)
        else:
            tenants[tenant_id] = policy
        self.config = self.config.model_copy(update={"tenants": tenants})
        self._policies.clear()

    def policy(self, tenant: TenantContext | str) -> GatewayConfig:
        """The effective configuration for ``tenant`` (gateway defaults with its overrides)."""
        return self._policy(self._context(tenant).tenant_id)

    def _policy(self, tenant_id: str) -> GatewayConfig:
        policy = self._policies.get(tenant_id)
        if policy is None:
            policy = self.config.for_tenant(tenant_id)
            if len(self._policies) > 10_000:
                self._policies.clear()
            self._policies[tenant_id] = policy
        return policy

    def _context(self, tenant: TenantContext | str, user_id: str | None = None) -> TenantContext:
        if isinstance(tenant, TenantContext):
            context = tenant
        else:
            known = self._tenants.get(tenant)
            if known is None:
                known = TenantContext(tenant_id=validate_tenant_id(tenant))
                if len(self._tenants) > 10_000:
                    self._tenants.clear()
                self._tenants[tenant] = known
            context = known
        if user_id is not None and user_id != context.user_id:
            return TenantContext.model_construct(tenant_id=context.tenant_id, user_id=user_id)
        return context

    # ------------------------------------------------------------------ generate

    async def generate(
        self,
        request: ChatRequest,
        *,
        tenant: TenantContext | str,
        user_id: str | None = None,
        no_cache: bool = False,
        ttl: float | None = None,
        response_schema: ResponseSchema | None = None,
        fallbacks: Sequence[str] | None = None,
        max_retries: int | None = None,
        validation_level: str | None = None,
        timeout: float | None = None,
        wait: bool | None = None,
    ) -> ChatResponse:
        """Run one completion for ``tenant`` through every policy.

        Per-call options override the tenant's policy: ``no_cache`` skips the cache (lookup and
        store), ``ttl`` sets this entry's lifetime, ``response_schema`` (a JSON schema or a pydantic
        model class, checked before any call: see :func:`compile_schema`) requests JSON output that
        must validate against it, ``fallbacks`` replaces the fallback models, ``max_retries``,
        ``validation_level``, ``timeout`` (seconds per attempt) and ``wait`` (queue instead of
        raising :class:`RateLimited`).
        """
        context = self._context(tenant, user_id)
        tenant_id = context.tenant_id
        policy = self._policy(tenant_id)
        request = self._check_request(request, policy)
        level = self._check_level(validation_level or policy.validation_level)
        self._check_call_options(ttl=ttl, max_retries=max_retries, timeout=timeout)
        if response_schema is not None:
            response_schema = compile_schema(response_schema)
        call = _Call(tenant_id, context.user_id, "chat", request.model, self._clock())
        self.stats.calls += 1
        use_cache = self._cache is not None and policy.enable_caching and not no_cache
        key = ""
        if use_cache or policy.request_deduplication:
            key = caching.chat_key(tenant_id, request, variant=caching.schema_variant(level, response_schema))
        with self._span("chat", request.model, tenant_id) as span:
            if use_cache:
                hit = await self._chat_lookup(key)
                if hit is not None:
                    response = hit[0]
                    self._finish_chat(call, span, response, "cache")
                    return response
                if policy.semantic_cache:
                    found = await self._semantic_lookup(tenant_id, request, level, response_schema, policy)
                    if found is not None:
                        self._finish_chat(call, span, found[0], "semantic_cache")
                        return found[0]
            try:
                response = await self._generate_miss(
                    request,
                    call,
                    policy,
                    level,
                    key,
                    use_cache,
                    ttl=ttl,
                    response_schema=response_schema,
                    fallbacks=fallbacks,
                    max_retries=max_retries,
                    timeout=timeout,
                    wait=wait,
                    context=context,
                )
            except BaseException as error:
                self._fail(call, span, error)
                raise
            self._finish_chat(call, span, response, call.source)
            return response

    async def _generate_miss(
        self,
        request: ChatRequest,
        call: _Call,
        policy: GatewayConfig,
        level: str,
        key: str,
        use_cache: bool,
        *,
        ttl: float | None,
        response_schema: ResponseSchema | None,
        fallbacks: Sequence[str] | None,
        max_retries: int | None,
        timeout: float | None,
        wait: bool | None,
        context: TenantContext,
    ) -> ChatResponse:
        prompt_tokens = self._check_context_window(request)
        original = request
        request = await self._input_guardrails(request, context, level, policy)
        await self._check_budget(call.tenant_id, policy)
        estimate = prompt_tokens if prompt_tokens is not None else self._estimate_tokens(request)
        await self._rate_limit(call, policy, request.model, estimate, wait)

        async def produce() -> ChatResponse:
            models = self._models(request.model, policy, fallbacks)

            async def attempt(model: str) -> ChatResponse:
                target = request if model == request.model else request.model_copy(update={"model": model})
                return await self._llm.complete(target, timeout=timeout or policy.request_timeout)

            response = await self._resilient(call, models, attempt, policy, max_retries, timeout)
            response = self._priced(response, policy)
            response = await self._output_guardrails(
                response, call, context, level, policy, response_schema, request
            )
            if use_cache and await self._cache_set(
                key, caching.encode_chat(response), ttl or policy.cache_ttl,
                call=call, level=level, texts=[*request_texts(original), response.text],
            ):
                if policy.semantic_cache:
                    await self._semantic_remember(
                        call.tenant_id, request, level, response_schema, key, policy
                    )
            return response

        if policy.request_deduplication and key:
            response = await self._deduplicated(key, produce, call)
        else:
            response = await produce()
        if call.source == "provider":
            await self._charge_tokens(call, policy, response.model, response.usage.output_tokens)
        return response

    # ------------------------------------------------------------------ stream

    async def stream(
        self,
        request: ChatRequest,
        *,
        tenant: TenantContext | str,
        user_id: str | None = None,
        no_cache: bool = False,
        ttl: float | None = None,
        fallbacks: Sequence[str] | None = None,
        max_retries: int | None = None,
        validation_level: str | None = None,
        timeout: float | None = None,
        wait: bool | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """Stream one completion for ``tenant``; a cached answer is replayed as a stream.

        Retries and fallbacks apply until the first chunk arrives. The output guardrails run on
        the whole text at the end: a violation ends the stream with :class:`GuardrailViolation`
        (and nothing is cached).
        """
        context = self._context(tenant, user_id)
        tenant_id = context.tenant_id
        policy = self._policy(tenant_id)
        request = self._check_request(request, policy)
        level = self._check_level(validation_level or policy.validation_level)
        self._check_call_options(ttl=ttl, max_retries=max_retries, timeout=timeout)
        call = _Call(tenant_id, context.user_id, "chat", request.model, self._clock())
        self.stats.calls += 1
        use_cache = self._cache is not None and policy.enable_caching and not no_cache
        key = (
            caching.chat_key(tenant_id, request, variant=caching.schema_variant(level, None))
            if use_cache
            else ""
        )
        with self._span("chat", request.model, tenant_id) as span:
            span.set_attribute("gen_ai.request.stream", True)
            if use_cache:
                hit = await self._chat_lookup(key)
                if hit is not None:
                    response, chunks = hit
                    for chunk in caching.replay(response, chunks):
                        yield chunk
                    self._finish_chat(call, span, response, "cache")
                    return
            pieces: list[str] = []
            final: StreamChunk | None = None
            tool_calls: tuple[ToolCall, ...] = ()
            try:
                prompt_tokens = self._check_context_window(request)
                request = await self._input_guardrails(request, context, level, policy)
                await self._check_budget(tenant_id, policy)
                estimate = prompt_tokens if prompt_tokens is not None else self._estimate_tokens(request)
                await self._rate_limit(call, policy, request.model, estimate, wait)
                models = self._models(request.model, policy, fallbacks)
                async for model, chunk in self._resilient_stream(
                    call, models, request, policy, max_retries, timeout
                ):
                    if chunk.delta:
                        pieces.append(chunk.delta)
                    if chunk.tool_calls:
                        tool_calls += chunk.tool_calls
                    if chunk.finish_reason is not None or chunk.usage is not None:
                        final = chunk
                    call.model = model
                    yield chunk
                text = "".join(pieces)
                usage = (
                    final.usage
                    if final is not None and final.usage is not None
                    else Usage(
                        input_tokens=self._estimate_tokens(request),
                        output_tokens=self._llm.count_tokens(call.model, text),
                    )
                )
                response = ChatResponse(
                    id=f"stream-{caching.digest(f'{tenant_id}{call.started}{self._random()}'.encode())}",
                    model=call.model,
                    provider=self._provider_of(call.model),
                    message=Message(role="assistant", content=text or None, tool_calls=tool_calls),
                    finish_reason=final.finish_reason if final is not None else None,
                    usage=usage,
                )
                response = self._priced(response, policy)
                checked = await self._output_guardrails(response, call, context, level, policy, None, request)
                if use_cache:
                    chunks = pieces if checked.text == text else [checked.text]
                    await self._cache_set(
                        key, caching.encode_chat(checked, chunks), ttl or policy.cache_ttl,
                        call=call, level=level, texts=[*request_texts(request), checked.text],
                    )
                await self._charge_tokens(call, policy, call.model, usage.output_tokens)
            except BaseException as error:
                self._fail(call, span, error)
                raise
            self._finish_chat(call, span, checked, "provider")

    # ------------------------------------------------------------------ embed

    async def embed(
        self,
        texts: Sequence[str],
        *,
        tenant: TenantContext | str,
        model: str | None = None,
        user_id: str | None = None,
        no_cache: bool = False,
        ttl: float | None = None,
        fallbacks: Sequence[str] | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        wait: bool | None = None,
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant`` with ``model`` (default: the configured embedding model).

        Cached, rate-limited, retried, de-duplicated and charged like a completion. ``fallbacks``
        only makes sense between models of the same vector size; none are used by default.
        """
        context = self._context(tenant, user_id)
        tenant_id = context.tenant_id
        policy = self._policy(tenant_id)
        if isinstance(texts, str):
            raise ValidationError("texts must be a sequence of strings, not one string", field="texts")
        inputs = tuple(texts)
        if not inputs:
            raise ValidationError("texts must not be empty", field="texts")
        for index, text in enumerate(inputs):
            if not isinstance(text, str):
                raise ValidationError(f"texts[{index}] is {type(text).__name__}, not str", field="texts")
            check_text(text, f"texts.{index}")
        model = model or policy.default_embedding_model
        self._check_model(model, policy)
        self._check_call_options(ttl=ttl, max_retries=max_retries, timeout=timeout)
        call = _Call(tenant_id, context.user_id, "embeddings", model, self._clock())
        self.stats.calls += 1
        use_cache = (
            self._cache is not None and policy.enable_caching and policy.cache_embeddings and not no_cache
        )
        key = (
            caching.embedding_key(tenant_id, model, inputs)
            if use_cache or policy.request_deduplication
            else ""
        )
        with self._span("embeddings", model, tenant_id) as span:
            if use_cache:
                data = await self._cache_get(key)
                decoded = caching.decode_embeddings(data) if data is not None else None
                if decoded is not None:
                    self.stats.cache_hits += 1
                    cached_model, vectors, tokens, cost = decoded
                    response = EmbeddingResponse.model_construct(
                        model=cached_model,
                        vectors=vectors,
                        usage=Usage.model_construct(input_tokens=tokens, output_tokens=0),
                        cost_usd=cost,
                        cached=True,
                    )
                    self._finish_embed(call, span, response, "cache")
                    return response
            try:
                await self._check_budget(tenant_id, policy)
                await self._rate_limit(call, policy, model, _rough_tokens(inputs), wait)

                async def produce() -> EmbeddingResponse:
                    async def attempt(name: str) -> EmbeddingResponse:
                        return await self._embeddings.embed(
                            EmbeddingRequest(model=name, inputs=inputs),
                            timeout=timeout or policy.request_timeout,
                        )

                    models = (model, *fallbacks) if fallbacks else (model,)
                    response = await self._resilient(
                        call, list(models), attempt, policy, max_retries, timeout
                    )
                    if len(response.vectors) != len(inputs):
                        raise ProviderError(
                            f"embedding provider returned {len(response.vectors)} vectors "
                            f"for {len(inputs)} inputs",
                            model=response.model,
                            tenant_id=tenant_id,
                        )
                    price = policy.model_prices.get(response.model)
                    if price is not None:
                        response = response.model_copy(
                            update={"cost_usd": price.cost(response.usage.input_tokens, 0)}
                        )
                    if use_cache:
                        await self._cache_set(
                            key,
                            caching.encode_embeddings(
                                response.vectors,
                                response.model,
                                response.usage.input_tokens,
                                response.cost_usd,
                            ),
                            ttl or policy.cache_ttl,
                            call=call, level=policy.validation_level, texts=inputs,
                        )
                    return response

                if policy.request_deduplication:
                    response = await self._deduplicated(key, produce, call)
                else:
                    response = await produce()
            except BaseException as error:
                self._fail(call, span, error)
                raise
            self._finish_embed(call, span, response, call.source)
            return response

    # ------------------------------------------------------------------ feedback, usage, health

    async def record_feedback(
        self,
        response_id: str,
        *,
        tenant: TenantContext | str,
        rating: int,
        comment: str = "",
        user_id: str | None = None,
    ) -> FeedbackRecord:
        """Record a rating (1-5) and comment against one of the tenant's responses.

        Raises :class:`NotFound` when the tenant has no such response in the ledger, and
        :class:`ValidationError` for a rating outside 1-5.
        """
        context = self._context(tenant, user_id)
        if self._ledger is None:
            raise NotFound(
                "no usage ledger is configured, so there is nothing to give feedback on",
                response_id=response_id,
                tenant_id=context.tenant_id,
            )
        try:
            feedback = FeedbackRecord(
                tenant_id=context.tenant_id,
                response_id=response_id,
                user_id=context.user_id,
                rating=rating,
                comment=comment,
            )
        except ValueError as error:
            raise ValidationError(
                f"invalid feedback: {error}", field="rating", tenant_id=context.tenant_id
            ) from error
        await self.flush()
        await self._ledger.record_feedback(feedback)
        return feedback

    async def flush(self) -> None:
        """Wait until every pending usage record has been written to the ledger."""
        while self._pending or (self._writer is not None and not self._writer.done()):
            if self._writer is None or self._writer.done():
                self._writer = asyncio.ensure_future(self._drain())
            await asyncio.shield(self._writer)
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def health(self) -> GatewayHealth:
        """Breaker states, and whether the cache, limits store and ledger answer."""
        health = GatewayHealth(status="ok", pending_ledger_writes=len(self._pending))
        health.cache_hit_rate = self.stats.cache_hit_rate
        health.semantic_hit_rate = self.stats.semantic_hit_rate
        try:
            health.limits = await self._limits.ping()
        except Exception as error:
            health.limits = False
            health.errors["limits"] = str(error)
        if self._cache is not None:
            try:
                health.cache = await self._cache.ping()
            except Exception as error:
                health.cache = False
                health.errors["cache"] = str(error)
        states = await self._limits.breaker_states()
        health.breakers = {circuit_label(key): state.state for key, state in states.items()}
        for name, port in (("limits", self._limits), ("cache", self._cache)):
            if isinstance(port, FallbackLimits | CircuitCache):
                health.stores[name] = port.circuit_state
        if self._ledger is not None:
            try:
                health.ledger = await self._ledger.ping()
            except Exception as error:
                health.ledger = False
                health.errors["ledger"] = str(error)
        if health.cache is False or health.ledger is False or health.limits is False:
            health.status = "degraded"
        if any(state != "closed" for state in health.stores.values()):
            health.status = "degraded"
        if any(state == "open" for state in health.breakers.values()):
            health.status = "degraded"
        return health

    async def invalidate(self, tenant: TenantContext | str) -> int:
        """Drop every cached gateway answer of ``tenant`` (and nothing of another tenant or of
        another subsystem); returns how many entries went."""
        tenant_id = self._context(tenant).tenant_id
        if self._cache is None:
            return 0
        return await self._cache.delete_tenant(tenant_id, namespace=keys.GATEWAY)

    def forget_cached(self, tenant_id: str, cache_keys: Sequence[str]) -> int:
        """Drop the prompt vectors of ``cache_keys`` from the tenant's semantic index (erasure of
        a user's cached answers); return how many it held."""
        return sum(self._semantic.forget(tenant_id, key) for key in cache_keys)

    async def aclose(self) -> None:
        """Write pending usage records; the ports themselves are closed by their owner."""
        await self.flush()

    # ------------------------------------------------------------------ input checks

    def _check_request(self, request: ChatRequest, policy: GatewayConfig) -> ChatRequest:
        if not isinstance(request, ChatRequest):
            raise ValidationError(
                f"request must be a ChatRequest, got {type(request).__name__}", field="request"
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
            self._check_model(request.model, policy)
        response_format = request.response_format
        if response_format and response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            if isinstance(spec, dict) and spec.get("schema") is not None:
                compile_schema(spec["schema"])
        return request

    def _check_model(self, model: str, policy: GatewayConfig) -> None:
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

    @staticmethod
    def _check_level(level: str) -> str:
        if level not in LEVELS:
            raise ValidationError(
                f"validation_level must be one of {', '.join(LEVELS)}, got {level!r}",
                field="validation_level",
            )
        return level

    @staticmethod
    def _check_call_options(*, ttl: float | None, max_retries: int | None, timeout: float | None) -> None:
        if ttl is not None and not 0 < ttl <= 365 * 86400:
            raise ValidationError(f"ttl must be within (0, 1 year] seconds, got {ttl}", field="ttl")
        if max_retries is not None and not 0 <= max_retries <= 20:
            raise ValidationError(f"max_retries must be within 0-20, got {max_retries}", field="max_retries")
        if timeout is not None and not 0 < timeout <= 3600:
            raise ValidationError(f"timeout must be within (0, 3600] seconds, got {timeout}", field="timeout")

    def _check_context_window(self, request: ChatRequest) -> int | None:
        """Refuse a prompt that cannot fit; returns the counted prompt tokens when counted."""
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

    def _estimate_tokens(self, request: ChatRequest) -> int:
        return _rough_tokens(m.content or "" for m in request.messages)

    def _models(self, model: str, policy: GatewayConfig, fallbacks: Sequence[str] | None) -> list[str]:
        chain = [model]
        for name in fallbacks if fallbacks is not None else policy.fallback_models:
            if name not in chain:
                chain.append(name)
        return chain

    def _provider_of(self, model: str) -> str:
        return model.split("/", 1)[0] if "/" in model else ""

    # ------------------------------------------------------------------ guardrails

    async def _input_guardrails(
        self, request: ChatRequest, context: TenantContext, level: str, policy: GatewayConfig
    ) -> ChatRequest:
        rules = LEVELS[level]
        checked = check_input(request.messages, rules, max_input_chars=policy.max_input_chars)
        if checked.violations:
            await self._audit_event(
                context,
                "guardrail_violation",
                "input",
                level,
                request.model,
                checked.violations,
                {"redacted": checked.redacted, "injection_score": checked.injection_score},
            )
            raise GuardrailViolation(
                "input refused by guardrails: " + "; ".join(checked.violations),
                reasons=list(checked.violations),
                stage="input",
                level=level,
                tenant_id=context.tenant_id,
                model=request.model,
            )
        if checked.injection_score:
            await self._audit_event(
                context,
                "injection_suspected",
                "input",
                level,
                request.model,
                list(checked.injection_matches),
                {"injection_score": checked.injection_score},
            )
        if checked.redacted:
            await self._audit_event(
                context,
                "pii_redacted",
                "input",
                level,
                request.model,
                sorted(checked.redacted),
                {"counts": checked.redacted},
            )
            return request.model_copy(update={"messages": checked.messages})
        return request

    async def guard_context(
        self,
        texts: Sequence[str],
        *,
        tenant: TenantContext | str,
        origin: ContextOrigin,
        model: str | None = None,
    ) -> ContextCheck:
        """Guard untrusted text a prompt is about to quote (passages, tool results, memories).

        The tenant's ``validation_level`` decides (see :mod:`motadata_ai.domain.guardrails.context`):
        PII is redacted and injection-like texts are flagged or dropped, never raising; each
        suspected injection and each redaction is written to the audit log with ``origin``.
        """
        context = self._context(tenant)
        level = self._check_level(self._policy(context.tenant_id).validation_level)
        checked = ContextGuard.for_level(level).check(texts, origin=origin)
        if checked.injection_matches:
            await self._audit_event(
                context,
                "injection_suspected",
                "input",
                level,
                model,
                list(checked.injection_matches),
                {
                    "origin": origin,
                    "dropped": checked.count("dropped"),
                    "flagged": checked.count("flagged"),
                    "injection_scores": [g.injection_score for g in checked.texts if g.injection_score],
                },
            )
        if checked.redacted:
            await self._audit_event(
                context,
                "pii_redacted",
                "input",
                level,
                model,
                sorted(checked.redacted),
                {"origin": origin, "counts": checked.redacted},
            )
        return checked

    async def _output_guardrails(
        self,
        response: ChatResponse,
        call: _Call,
        context: TenantContext,
        level: str,
        policy: GatewayConfig,
        schema: ResponseSchema | None,
        request: ChatRequest,
    ) -> ChatResponse:
        rules = LEVELS[level]
        json_required = schema is not None or (
            request.response_format is not None and request.response_format.get("type") in ("json_object",)
        )
        if (
            schema is None
            and request.response_format
            and request.response_format.get("type") == "json_schema"
        ):
            spec = request.response_format.get("json_schema") or {}
            schema = spec.get("schema") if isinstance(spec, dict) else None
            json_required = True
        if (
            not rules.content_filter
            and not rules.output_pii
            and not json_required
            and not policy.blocked_output_terms
        ):
            return response
        checked = check_output(
            response.text,
            rules,
            schema=schema,
            json_required=json_required and not response.message.tool_calls,
            blocked_terms=policy.blocked_output_terms,
        )
        if checked.violations:
            await self._audit_event(
                context,
                "guardrail_violation",
                "output",
                level,
                response.model,
                checked.violations,
                {"response_id": response.id},
            )
            call.attempts.append({"model": response.model, "blocked": True})
            error = GuardrailViolation(
                "output refused by guardrails: " + "; ".join(checked.violations),
                reasons=list(checked.violations),
                stage="output",
                level=level,
                tenant_id=context.tenant_id,
                model=response.model,
                response_id=response.id,
            )
            error.fields["response"] = response  # charged in the ledger, never returned or cached
            raise error
        if checked.redacted:
            await self._audit_event(
                context,
                "pii_redacted",
                "output",
                level,
                response.model,
                sorted(checked.redacted),
                {"counts": checked.redacted, "response_id": response.id},
            )
            message = response.message.model_copy(update={"content": checked.text})
            return response.model_copy(update={"message": message})
        return response

    async def _audit_event(
        self,
        context: TenantContext,
        kind: Any,
        stage: Any,
        level: str,
        model: str | None,
        reasons: Sequence[str],
        details: dict[str, Any],
    ) -> None:
        log.info("guardrail %s (%s, %s) for tenant %s: %s", kind, stage, level, context.tenant_id, reasons)
        if self._telemetry is not None:
            self._telemetry.add_counter("motadata.gateway.guardrail.events", 1, attributes={"kind": kind})
        if self._audit is None:
            return
        event = AuditEvent(
            tenant_id=context.tenant_id,
            user_id=context.user_id,
            kind=kind,
            stage=stage,
            level=level,
            model=model,
            reasons=tuple(reasons),
            details=details,
        )
        try:
            await self._audit.write(event)
        except Exception as error:  # the audit log must not take the call down
            log.warning("audit log write failed: %s", error)

    # ------------------------------------------------------------------ cache

    async def _cache_get(self, key: str) -> bytes | None:
        assert self._cache is not None
        self.stats.cache_lookups += 1
        try:
            return await self._cache.get(key)
        except CacheBypassed:  # its circuit is open: a miss, already logged when it opened
            self.stats.cache_errors += 1
            return None
        except Exception as error:  # fail open: a cache that is down is a miss
            self.stats.cache_errors += 1
            log.warning("cache lookup failed (treated as a miss): %s", error)
            return None

    async def _chat_lookup(self, key: str) -> tuple[ChatResponse, list[str] | None] | None:
        data = await self._cache_get(key)
        if data is None:
            return None
        decoded = caching.decode_chat(data)
        if decoded is not None:
            self.stats.cache_hits += 1
        return decoded

    async def _cache_set(
        self, key: str, value: bytes, ttl: float, *, call: _Call, level: str, texts: Sequence[str | None]
    ) -> bool:
        """Store the entry unless it holds personal data the level keeps out of the shared cache
        (:mod:`motadata_ai.domain.privacy.cache_policy`), listing it in the user's cache index."""
        assert self._cache is not None
        if not cacheable(level, texts):
            return False
        try:
            await self._cache.set(key, value, ttl=ttl)
            if call.user_id:
                await self._cache.index_add(user_index_key(call.tenant_id, call.user_id), key, ttl=ttl)
        except CacheBypassed:
            self.stats.cache_errors += 1
        except Exception as error:
            self.stats.cache_errors += 1
            log.warning("cache store failed (answer not cached): %s", error)
        return True

    async def _semantic_vector(self, request: ChatRequest, policy: GatewayConfig) -> tuple[float, ...] | None:
        model = policy.semantic_cache_model or policy.default_embedding_model
        try:
            result = await self._embeddings.embed(
                EmbeddingRequest(model=model, inputs=(caching.prompt_text(request),))
            )
        except ServiceError as error:
            log.warning("semantic cache embedding failed (treated as a miss): %s", error)
            return None
        return result.vectors[0] if result.vectors else None

    async def _semantic_lookup(
        self,
        tenant_id: str,
        request: ChatRequest,
        level: str,
        schema: ResponseSchema | None,
        policy: GatewayConfig,
    ) -> tuple[ChatResponse, list[str] | None] | None:
        self.stats.semantic_lookups += 1
        vector = await self._semantic_vector(request, policy)
        if vector is None:
            return None
        shape = caching.SemanticIndex.shape(request, caching.schema_variant(level, schema))
        key = self._semantic.nearest(tenant_id, shape, vector, policy.semantic_cache_threshold)
        if key is None:
            return None
        hit = await self._chat_lookup(key)
        if hit is None:
            self._semantic.forget(tenant_id, key)
            return None
        self.stats.semantic_hits += 1
        return hit

    async def _semantic_remember(
        self,
        tenant_id: str,
        request: ChatRequest,
        level: str,
        schema: ResponseSchema | None,
        key: str,
        policy: GatewayConfig,
    ) -> None:
        vector = await self._semantic_vector(request, policy)
        if vector is not None:
            shape = caching.SemanticIndex.shape(request, caching.schema_variant(level, schema))
            self._semantic.add(tenant_id, shape, key, vector)

    # ------------------------------------------------------------------ budgets and limits

    def _periods(self, policy: GatewayConfig) -> list[tuple[str, float, datetime]]:
        now = self._wall_clock()
        periods = []
        if policy.daily_budget_usd is not None:
            periods.append(
                ("daily", policy.daily_budget_usd, now.replace(hour=0, minute=0, second=0, microsecond=0))
            )
        if policy.monthly_budget_usd is not None:
            start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            periods.append(("monthly", policy.monthly_budget_usd, start))
        return periods

    async def _check_budget(self, tenant_id: str, policy: GatewayConfig) -> None:
        for period, budget, since in self._periods(policy):
            spent = await self._spent(tenant_id, period, since, policy)
            if spent >= budget:
                raise BudgetExceeded(
                    f"tenant {tenant_id} has spent ${spent:.4f} of its {period} budget of ${budget:.4f}",
                    tenant_id=tenant_id,
                    period=period,
                    spent_usd=spent,
                    budget_usd=budget,
                )

    async def _spent(self, tenant_id: str, period: str, since: datetime, policy: GatewayConfig) -> float:
        entry = self._spend.get((tenant_id, period))
        stamp = since.timestamp()
        now = self._clock()
        if entry is not None and entry[0] == stamp and now - entry[2] < policy.budget_refresh_seconds:
            return entry[1]
        spent = entry[1] if entry is not None and entry[0] == stamp else 0.0
        if self._ledger is not None:
            try:
                await self.flush()
                spent = await self._ledger.spend(tenant=tenant_id, since=since)
            except ServiceError as error:
                self.stats.ledger_errors += 1
                log.warning("ledger spend query failed (using the last known total): %s", error)
        self._spend[(tenant_id, period)] = (stamp, spent, now)
        return spent

    def _add_spend(self, tenant_id: str, cost: float) -> None:
        if cost <= 0:
            return
        for (tenant, period), (stamp, spent, read_at) in list(self._spend.items()):
            if tenant == tenant_id:
                self._spend[(tenant, period)] = (stamp, spent + cost, read_at)

    def _buckets(self, tenant_id: str, policy: GatewayConfig, model: str, tokens: int) -> list[BucketSpec]:
        specs = []
        rpm = policy.requests_per_minute
        if rpm:
            specs.append(BucketSpec(bucket_key(tenant_id, "req"), float(policy.burst_size), rpm / 60.0))
        tpm = policy.tokens_per_minute
        if tpm:
            specs.append(BucketSpec(bucket_key(tenant_id, "tok"), float(tpm), tpm / 60.0, float(tokens)))
        mrpm = policy.model_requests_per_minute
        if mrpm:
            burst = policy.model_burst_size or policy.burst_size
            specs.append(BucketSpec(bucket_key(tenant_id, "req", model), float(burst), mrpm / 60.0))
        mtpm = policy.model_tokens_per_minute
        if mtpm:
            specs.append(
                BucketSpec(bucket_key(tenant_id, "tok", model), float(mtpm), mtpm / 60.0, float(tokens))
            )
        return specs

    async def _rate_limit(
        self, call: _Call, policy: GatewayConfig, model: str, tokens: int, wait: bool | None
    ) -> None:
        specs = self._buckets(call.tenant_id, policy, model, tokens)
        if not specs:
            return
        waited = 0.0
        queue = policy.rate_limit_wait if wait is None else wait
        while True:
            decision = await self._limits.take(specs)
            if decision.allowed:
                return
            retry_after = decision.retry_after
            if queue and waited + retry_after <= policy.rate_limit_max_wait:
                await self._sleep(retry_after)
                waited += retry_after
                continue
            scope = [bucket_scope(key) if key != UNAVAILABLE else key for key in decision.refused]
            raise RateLimited(
                f"tenant {call.tenant_id} is over its rate limit ({', '.join(scope)}); retry after "
                f"{retry_after:.2f}s",
                tenant_id=call.tenant_id,
                model=model,
                scope=scope,
                retry_after=retry_after,
            )

    async def _charge_tokens(
        self, call: _Call, policy: GatewayConfig, model: str, output_tokens: int
    ) -> None:
        if output_tokens <= 0 or not (policy.tokens_per_minute or policy.model_tokens_per_minute):
            return
        specs = [
            s for s in self._buckets(call.tenant_id, policy, model, output_tokens) if s.key.endswith(":tok")
        ]
        await self._limits.take(specs, force=True)

    # ------------------------------------------------------------------ breaker, retries, fallbacks

    async def _breaker_acquire(self, key: str, policy: GatewayConfig) -> BreakerDecision:
        return await self._limits.breaker_acquire(
            key,
            recovery_timeout=policy.circuit_recovery_timeout,
            half_open_max_calls=policy.circuit_half_open_max_calls,
        )

    async def _breaker_record(self, key: str, policy: GatewayConfig, success: bool) -> BreakerState:
        return await self._limits.breaker_record(
            key, success=success, failure_threshold=policy.circuit_failure_threshold
        )

    def backoff(self, attempt: int, policy: GatewayConfig, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): exponential, capped, with jitter;
        at least the provider's ``retry_after`` when it gave one."""
        delay = min(policy.retry_backoff_max, policy.retry_backoff_base * (2**attempt))
        jitter = policy.retry_jitter
        if jitter:
            delay *= 1.0 - jitter + 2.0 * jitter * self._random()
        if retry_after:
            delay = max(delay, min(float(retry_after), _RETRY_AFTER_CAP))
        return float(delay)

    async def _resilient(
        self,
        call: _Call,
        models: Sequence[str],
        attempt: Callable[[str], Awaitable[T]],
        policy: GatewayConfig,
        max_retries: int | None,
        timeout: float | None = None,
    ) -> T:
        retries = policy.max_retries if max_retries is None else max_retries
        caller_deadline = is_caller_deadline(timeout, policy.request_timeout)
        open_until: float | None = None
        last: ProviderError | None = None
        for model in models:
            breaker_key = circuit_key(model)
            decision = await self._breaker_gate(call, model, breaker_key, policy)
            if not decision.allowed:
                open_until = (
                    decision.retry_after if open_until is None else min(open_until, decision.retry_after)
                )
                continue
            failed_here = decision.state.failures > 0 or decision.state.state != "closed"
            for number in range(retries + 1):
                self.stats.provider_calls += 1
                try:
                    result = await attempt(model)
                except ProviderError as error:
                    call.attempts.append(self._attempt(model, number, error))
                    state = await self._breaker_note(breaker_key, policy, error, caller_deadline, failed_here)
                    if state is not None:
                        failed_here = state.failures > 0 or state.state != "closed"
                    if isinstance(error, ProviderBadRequest) and not isinstance(error, ContextWindowExceeded):
                        raise
                    last = error
                    if isinstance(error, ContextWindowExceeded):
                        break  # a larger-context fallback may take it
                    if not isinstance(error, RETRYABLE_PROVIDER_ERRORS) or (
                        state is not None and state.state == "open"
                    ):
                        break
                    if number < retries:
                        await self._sleep(self.backoff(number, policy, getattr(error, "retry_after", None)))
                    continue
                else:
                    await self._succeeded(call, model, number, breaker_key, policy, failed_here)
                    return result
        if last is None and open_until is not None:
            raise self._circuits_open(call, models, open_until)
        summary = "; ".join(
            f"{a['model']}#{a['attempt']}: {a['error']}" for a in call.attempts if a.get("error")
        )
        raise RetriesExhausted(
            f"all {len([a for a in call.attempts if a.get('error')])} attempts failed ({summary})",
            model=models[0],
            tenant_id=call.tenant_id,
            attempts=list(call.attempts),
            status_code=getattr(last, "status_code", None),
        ) from last

    async def _resilient_stream(
        self,
        call: _Call,
        models: Sequence[str],
        request: ChatRequest,
        policy: GatewayConfig,
        max_retries: int | None,
        timeout: float | None,
    ) -> AsyncIterator[tuple[str, StreamChunk]]:
        """Like :meth:`_resilient`, for a stream: retries and fallbacks until the first chunk."""
        retries = policy.max_retries if max_retries is None else max_retries
        caller_deadline = is_caller_deadline(timeout, policy.request_timeout)
        open_until: float | None = None
        last: ProviderError | None = None
        for model in models:
            breaker_key = circuit_key(model)
            decision = await self._breaker_gate(call, model, breaker_key, policy)
            if not decision.allowed:
                open_until = (
                    decision.retry_after if open_until is None else min(open_until, decision.retry_after)
                )
                continue
            failed_here = decision.state.failures > 0 or decision.state.state != "closed"
            target = request if model == request.model else request.model_copy(update={"model": model})
            for number in range(retries + 1):
                self.stats.provider_calls += 1
                started = False
                try:
                    async for chunk in self._llm.stream(target, timeout=timeout or policy.request_timeout):
                        started = True
                        yield model, chunk
                except ProviderError as error:
                    call.attempts.append(self._attempt(model, number, error))
                    state = await self._breaker_note(breaker_key, policy, error, caller_deadline, failed_here)
                    if state is not None:
                        failed_here = state.failures > 0 or state.state != "closed"
                    if isinstance(error, ProviderBadRequest) and not isinstance(error, ContextWindowExceeded):
                        raise
                    last = error
                    if started:
                        raise
                    opened = state is not None and state.state == "open"
                    if opened or isinstance(error, ContextWindowExceeded):
                        break
                    if not isinstance(error, RETRYABLE_PROVIDER_ERRORS):
                        break
                    if number < retries:
                        await self._sleep(self.backoff(number, policy, getattr(error, "retry_after", None)))
                    continue
                await self._succeeded(call, model, number, breaker_key, policy, failed_here)
                return
        if last is None and open_until is not None:
            raise self._circuits_open(call, models, open_until)
        raise RetriesExhausted(
            f"all attempts failed for {', '.join(models)}",
            model=models[0],
            tenant_id=call.tenant_id,
            attempts=list(call.attempts),
        ) from last

    async def _breaker_note(
        self,
        key: str,
        policy: GatewayConfig,
        error: ProviderError,
        caller_deadline: bool,
        failed_here: bool,
    ) -> BreakerState | None:
        """Record a failed attempt on the model's circuit by its verdict (:mod:`.outcomes`):
        a provider-side failure counts, a 4xx answer closes a circuit that had failures, and a
        caller-caused outcome leaves it alone. Returns the new state (``None`` when untouched)."""
        verdict = breaker_verdict(error, caller_deadline=caller_deadline)
        if verdict == "failure":
            return await self._breaker_record(key, policy, False)
        if verdict == "healthy" and failed_here:
            return await self._breaker_record(key, policy, True)
        return None

    async def _breaker_gate(
        self, call: _Call, model: str, breaker_key: str, policy: GatewayConfig
    ) -> BreakerDecision:
        """Ask the model's breaker; a refusal is noted as a ``CircuitOpen`` attempt."""
        decision = await self._breaker_acquire(breaker_key, policy)
        if not decision.allowed:
            call.attempts.append(
                {"model": model, "attempt": 0, "error": "CircuitOpen", "retry_after": decision.retry_after}
            )
        return decision

    async def _succeeded(
        self, call: _Call, model: str, number: int, breaker_key: str, policy: GatewayConfig, failed_here: bool
    ) -> None:
        """Note the answering model and attempt; close its breaker if it had failures."""
        call.model = model
        call.attempts.append({"model": model, "attempt": number, "error": None})
        if failed_here:
            await self._breaker_record(breaker_key, policy, True)

    @staticmethod
    def _circuits_open(call: _Call, models: Sequence[str], open_until: float) -> CircuitOpen:
        return CircuitOpen(
            f"circuit open for {', '.join(models)}; retry after {open_until:.1f}s",
            model=models[0],
            tried=list(models),
            retry_after=open_until,
            tenant_id=call.tenant_id,
        )

    @staticmethod
    def _attempt(model: str, number: int, error: ProviderError) -> dict[str, Any]:
        return {
            "model": model,
            "attempt": number,
            "error": type(error).__name__,
            "message": str(error)[:300],
            "status_code": getattr(error, "status_code", None),
        }

    # ------------------------------------------------------------------ de-duplication

    async def _deduplicated(self, key: str, produce: Callable[[], Awaitable[T]], call: _Call) -> T:
        """Share one ``produce()`` between identical concurrent calls (the followers' source is ``dedup``).

        The first call (the leader) runs ``produce()`` itself, with no extra task, and publishes
        the outcome on a future the followers await. If the leader is cancelled, a follower that
        was not cancelled itself takes over as the new leader.
        """
        while (shared := self._inflight.get(key)) is not None:
            self.stats.dedup_hits += 1
            call.source = "dedup"
            try:
                result: T = await asyncio.shield(shared)
                return result
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not shared.cancelled() or current is None or current.cancelling():
                    raise
                call.source = "provider"
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            produced = await produce()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # followers re-raise it; without followers it is not "never retrieved"
            raise
        else:
            future.set_result(produced)
            return produced
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    # ------------------------------------------------------------------ cost, ledger, telemetry

    def _priced(self, response: ChatResponse, policy: GatewayConfig) -> ChatResponse:
        price = policy.model_prices.get(response.model)
        usage = response.usage
        if price is not None:
            cost = price.cost(usage.input_tokens, usage.output_tokens)
        elif response.cost_usd:
            return response
        else:
            cost = self._llm.cost_usd(response.model, usage.input_tokens, usage.output_tokens)
        if not cost:
            return response
        return response.model_copy(update={"cost_usd": cost})

    def _span(self, operation: str, model: str, tenant_id: str) -> AbstractContextManager[Any]:
        if self._telemetry is None:
            return nullcontext(_NULL_SPAN)
        return self._telemetry.span(
            f"{operation} {model}",
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.request.model": model,
                "gen_ai.provider.name": self._provider_of(model) or "unknown",
                "motadata.tenant.id": tenant_id,
            },
        )

    def _finish_chat(self, call: _Call, span: Any, response: ChatResponse, source: Source) -> None:
        elapsed = self._clock() - call.started
        cost = response.cost_usd
        provider_cost = cost if source == "provider" else 0.0
        usage = response.usage
        record = UsageRecord.model_construct(
            id=uuid.uuid4().hex,
            tenant_id=call.tenant_id,
            user_id=call.user_id,
            operation="chat",
            model=response.model,
            provider=response.provider,
            input_tokens=usage.input_tokens if source == "provider" else 0,
            output_tokens=usage.output_tokens if source == "provider" else 0,
            cost_usd=provider_cost,
            saved_usd=0.0 if source == "provider" else cost,
            latency_ms=elapsed * 1000.0,
            source=source,
            outcome="ok",
            attempts=call.provider_attempts,
            error=None,
            response_id=response.id,
            created_at=self._wall_clock(),
        )
        self._record(record, response)
        if source == "provider":
            self._add_spend(call.tenant_id, provider_cost)
        telemetry = self._telemetry
        if telemetry is not None:
            hit = source != "provider"
            span.set_attribute("gen_ai.response.model", response.model)
            span.set_attribute("gen_ai.response.id", response.id)
            span.set_attribute(
                "gen_ai.provider.name", response.provider or self._provider_of(response.model) or "unknown"
            )
            span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason or "unknown"])
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
            span.set_attribute("motadata.cache.hit", hit)
            span.set_attribute("motadata.gateway.source", source)
            span.set_attribute("motadata.cost.usd", provider_cost)
            self._metrics(call, response.model, elapsed, usage, hit, None)

    def _finish_embed(self, call: _Call, span: Any, response: EmbeddingResponse, source: Source) -> None:
        elapsed = self._clock() - call.started
        provider = source == "provider"
        record = UsageRecord.model_construct(
            id=uuid.uuid4().hex,
            tenant_id=call.tenant_id,
            user_id=call.user_id,
            operation="embeddings",
            model=response.model,
            provider=self._provider_of(response.model),
            input_tokens=response.usage.input_tokens if provider else 0,
            output_tokens=0,
            cost_usd=response.cost_usd if provider else 0.0,
            saved_usd=0.0 if provider else response.cost_usd,
            latency_ms=elapsed * 1000.0,
            source=source,
            outcome="ok",
            attempts=call.provider_attempts,
            error=None,
            response_id=None,
            created_at=self._wall_clock(),
        )
        self._record(record, None)
        if provider:
            self._add_spend(call.tenant_id, response.cost_usd)
        if self._telemetry is not None:
            span.set_attribute("gen_ai.usage.input_tokens", response.usage.input_tokens)
            span.set_attribute("motadata.cache.hit", not provider)
            self._metrics(call, response.model, elapsed, response.usage, not provider, None)

    def _fail(self, call: _Call, span: Any, error: BaseException) -> None:
        outcome: Outcome
        if isinstance(error, RateLimited):
            outcome = "rate_limited"
        elif isinstance(error, BudgetExceeded):
            outcome = "budget_exceeded"
        elif isinstance(error, CircuitOpen):
            outcome = "circuit_open"
        elif isinstance(error, GuardrailViolation):
            outcome = "blocked"
        elif isinstance(error, ValidationError | ProviderBadRequest) and not call.attempts:
            outcome = "invalid"  # refused before any provider call (an unknown model, a prompt too big)
        else:
            outcome = "error"
        blocked: ChatResponse | None = None
        if isinstance(error, GuardrailViolation):
            blocked = error.fields.get("response")
        # A blocked answer was produced (and paid for) by the provider: charge it once, to its leader.
        charged = blocked is not None and call.source == "provider"
        cost = blocked.cost_usd if charged and blocked is not None else 0.0
        usage = blocked.usage if charged and blocked is not None else Usage()
        record = UsageRecord.model_construct(
            id=uuid.uuid4().hex,
            tenant_id=call.tenant_id,
            user_id=call.user_id,
            operation="embeddings" if call.operation == "embeddings" else "chat",
            model=call.model,
            provider=self._provider_of(call.model),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=cost,
            saved_usd=0.0,
            latency_ms=(self._clock() - call.started) * 1000.0,
            source=call.source if charged else "none",
            outcome=outcome,
            attempts=call.provider_attempts,
            error=f"{type(error).__name__}: {error}"[:500],
            response_id=blocked.id if blocked is not None else None,
            created_at=self._wall_clock(),
        )
        self._record(record, None)
        self._add_spend(call.tenant_id, cost)
        if self._telemetry is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_attribute("motadata.gateway.outcome", outcome)
            self._metrics(call, call.model, self._clock() - call.started, usage, False, type(error).__name__)

    def _metrics(
        self, call: _Call, model: str, elapsed: float, usage: Usage, hit: bool, error: str | None
    ) -> None:
        telemetry = self._telemetry
        assert telemetry is not None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": call.operation,
            "gen_ai.request.model": call.model,
            "gen_ai.response.model": model,
            "gen_ai.provider.name": self._provider_of(model) or "unknown",
            "motadata.tenant.id": call.tenant_id,
            "motadata.cache.hit": hit,
        }
        if error is not None:
            attributes["error.type"] = error
        telemetry.record_histogram(
            "gen_ai.client.operation.duration", elapsed, unit="s", attributes=attributes
        )
        if not hit and error is None:
            if usage.input_tokens:
                telemetry.record_histogram(
                    "gen_ai.client.token.usage",
                    usage.input_tokens,
                    unit="{token}",
                    attributes={**attributes, "gen_ai.token.type": "input"},
                )
            if usage.output_tokens:
                telemetry.record_histogram(
                    "gen_ai.client.token.usage",
                    usage.output_tokens,
                    unit="{token}",
                    attributes={**attributes, "gen_ai.token.type": "output"},
                )
        telemetry.add_counter(
            "motadata.gateway.cache.hits" if hit else "motadata.gateway.cache.misses",
            1,
            attributes={"motadata.tenant.id": call.tenant_id},
        )

    def _record(self, record: UsageRecord, response: ChatResponse | None) -> None:
        if self._ledger is not None:
            self._pending.append(record)
            if self._writer is None or self._writer.done():
                self._writer = asyncio.ensure_future(self._drain())
        if self._feedback_hook is not None:
            task = asyncio.ensure_future(self._run_hook(self._feedback_hook, record, response))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _drain(self) -> None:
        assert self._ledger is not None
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._ledger.record_usage_many(batch)
            except Exception as error:  # the ledger must not take calls down
                self.stats.ledger_errors += 1
                log.warning("usage ledger write of %d records failed: %s", len(batch), error)

    async def _run_hook(self, hook: FeedbackHook, record: UsageRecord, response: ChatResponse | None) -> None:
        try:
            result = hook(record, response)
            if result is not None:
                await result
        except Exception as error:
            log.warning("feedback hook failed: %s", error)


class _NullSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def record_exception(self, error: BaseException) -> None:
        pass


_NULL_SPAN = _NullSpan()
