"""Gateway use-case: generate, stream and embed for a tenant, through a chain of policy steps.

The :class:`Gateway` is a facade: it builds the chain once from its configuration and ports and
runs each call down it. A call meets the steps in this order (``domain/gateway/steps/``)::

    experiment → validate → telemetry → ledger → cache (exact, semantic) → context window
    → input guardrails → budget → rate limit → de-duplication → output guardrails
    → embedding batches → resilience (models × retries × breakers) → provider

Everything outside the process (cache, limits, ledger, audit, telemetry, clock, sleep, randomness)
comes in through the constructor.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Unpack

from motadata_ai.domain.gateway.batch import run_batch
from motadata_ai.domain.gateway.budget_alerts import BudgetAlerts
from motadata_ai.domain.gateway.call import (
    Call,
    CallKind,
    CallOptions,
    EmbedKeywords,
    GenerateKeywords,
    StreamKeywords,
)
from motadata_ai.domain.gateway.chat_stream import ChatStream
from motadata_ai.domain.gateway.circuit_cache import CircuitCache
from motadata_ai.domain.gateway.config import GatewayConfig, TenantPolicy
from motadata_ai.domain.gateway.fallback_limits import FallbackLimits
from motadata_ai.domain.gateway.health import GatewayHealth, GatewayStats, check_health
from motadata_ai.domain.gateway.limits import LocalLimits
from motadata_ai.domain.gateway.requests import OpenRequests
from motadata_ai.domain.gateway.shared_flight import SharedFlight
from motadata_ai.domain.gateway.steps import Chain, Step
from motadata_ai.domain.gateway.steps.base import Clocks
from motadata_ai.domain.gateway.steps.budget import BudgetStep
from motadata_ai.domain.gateway.steps.cache import CacheStep
from motadata_ai.domain.gateway.steps.coalesce import CoalesceEmbeddings
from motadata_ai.domain.gateway.steps.dedup import Deduplicate
from motadata_ai.domain.gateway.steps.experiment import ExperimentStep
from motadata_ai.domain.gateway.steps.guardrails import AuditSink, InputGuardrails, OutputGuardrails
from motadata_ai.domain.gateway.steps.ledger import FeedbackHook, LedgerStep, UsageRecorder
from motadata_ai.domain.gateway.steps.provider import Provider
from motadata_ai.domain.gateway.steps.rate_limit import RateLimit
from motadata_ai.domain.gateway.steps.resilience import Resilience
from motadata_ai.domain.gateway.steps.telemetry import TelemetryStep
from motadata_ai.domain.gateway.steps.validate import ContextWindow, Validate, check_level
from motadata_ai.domain.gateway.store_circuit import StoreCircuit
from motadata_ai.domain.guardrails.context import ContextCheck, ContextOrigin
from motadata_ai.domain.prompts.templates import PromptRegistry
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.calls import CallOrigin
from motadata_ai.domain.values.errors import MotadataError, NotFound, ValidationError
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelCapabilities,
)
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.domain.values.usage import FeedbackRecord
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.leases import LeasePort
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.ports.llm import LLMPort
from motadata_ai.ports.telemetry import TelemetryPort

__all__ = ["Gateway", "GatewayHealth", "GatewayStats"]

_EMBED = frozenset(EmbedKeywords.__annotations__)  # with the keywords they inherit
_STREAM = frozenset(StreamKeywords.__annotations__)
_GENERATE = frozenset(GenerateKeywords.__annotations__)


class Gateway:
    """Every LLM call and embedding of a tenant goes through here.

    Only ``llm`` and ``embeddings`` are required. Without ``cache`` nothing is cached; without
    ``limits`` rate limits and breakers hold in this process; without ``ledger`` no usage is
    stored (budgets then count this process's spend only); without ``audit`` guardrail events are
    only logged; without ``telemetry`` nothing is traced; with ``leases`` identical in-flight calls are
    de-duplicated across the instances sharing that store. ``budget_alerts`` sends the budgets'
    alerts (default: claimed in the ledger, counted in telemetry); ``prompts`` holds the templates a
    call names with ``prompt=`` (default: an empty registry).

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
        leases: LeasePort | None = None,
        feedback_hook: FeedbackHook | None = None,
        budget_alerts: BudgetAlerts | None = None,
        prompts: PromptRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        config = config or GatewayConfig()
        updates = {
            k: v
            for k, v in (
                ("default_model", default_model),
                ("default_embedding_model", default_embedding_model),
            )
            if v is not None
        }
        self.config = config.model_copy(update=updates) if updates else config
        if cache is not None and not isinstance(cache, CircuitCache):
            cache = CircuitCache(cache, circuit=StoreCircuit(clock=clock))
        if limits is not None and not isinstance(limits, FallbackLimits):
            limits = FallbackLimits(
                limits,
                local=LocalLimits(clock=clock),
                policy=self.config.limits_failure_policy,
                circuit=StoreCircuit(clock=clock),
            )
        self._llm, self._cache, self._ledger, self._clock = llm, cache, ledger, clock
        self._limits: LimitsPort = limits or LocalLimits(clock=clock)
        self._stats = GatewayStats()
        self._recorder = UsageRecorder(ledger, feedback_hook=feedback_hook, stats=self._stats)
        self._audit = AuditSink(audit, telemetry)
        self._rate_limit = RateLimit(self._limits, sleep=sleep)
        self._requests = OpenRequests(self._rate_limit)
        self._resilience = Resilience(self._limits, stats=self._stats, sleep=sleep, random=random)
        clocks, flush = Clocks(clock, wall_clock), self._recorder.flush
        self.budget_alerts = alerts = budget_alerts or BudgetAlerts(ledger=ledger, telemetry=telemetry)
        self.prompts = prompts if prompts is not None else PromptRegistry()
        steps: list[Step] = [ExperimentStep(self.prompts), Validate(has_cache=cache is not None)]
        if telemetry is not None:
            steps.append(TelemetryStep(telemetry, clock=clock, llm=llm, embeddings=embeddings))
        steps.append(
            LedgerStep(self._recorder, clocks=clocks, stats=self._stats, canonical=llm.canonical_model)
        )
        self._cache_step: CacheStep | None = None
        if cache is not None:
            max_entries = self.config.semantic_cache_max_entries
            self._cache_step = CacheStep(
                cache, embeddings=embeddings, stats=self._stats, semantic_max_entries=max_entries
            )
            steps.append(self._cache_step)
        steps += [
            ContextWindow(llm),
            InputGuardrails(self._audit),
            BudgetStep(ledger=ledger, flush=flush, clocks=clocks, stats=self._stats, alerts=alerts),
            self._rate_limit,
            Deduplicate(self._stats, shared=SharedFlight.configured(leases, self.config, clock=clock)),
            OutputGuardrails(self._audit),
            CoalesceEmbeddings(),
            self._resilience,
        ]
        self._chain = Chain(steps, Provider(llm, embeddings, random=random))
        self._policies: dict[str, GatewayConfig] = {}
        self._tenants: dict[str, TenantContext] = {}

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

    @property
    def chain(self) -> Chain:
        """The steps a call goes through, outermost first."""
        return self._chain

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

    def backoff(self, attempt: int, policy: GatewayConfig, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): exponential, capped, with jitter;
        at least the provider's ``retry_after`` when it gave one."""
        return self._resilience.backoff(attempt, policy, retry_after)

    # ------------------------------------------------------------------ requests and calls

    def request(
        self,
        tenant: TenantContext | str,
        *,
        operation: str,
        wait: bool | None = None,
        conversation_id: str | None = None,
        user_id: str | None = None,
    ) -> AbstractAsyncContextManager[CallOrigin]:
        """One user request (``rag.query``, ``agent.execute_task`` ...): it spends one of the
        tenant's requests at its start (:class:`RateLimited` or a wait, per the policy), and the
        gateway calls made inside the block are made on its behalf and spend none. Inside another
        request of the same tenant, it joins that one and spends nothing. ``conversation_id`` names
        the conversation the request is a turn of (its calls' spans carry it).

        The calls inside are attributed to ``user_id`` (default: the tenant context's user) unless
        a call names its own; the origin's ``usage`` sums their records (the request's cost)."""
        context = self._context(tenant, user_id)
        tenant_id = context.tenant_id
        return self._requests.open(
            tenant_id, self._policy(tenant_id), operation, wait, context.user_id, conversation_id
        )

    async def admit(self, tenant: TenantContext | str, *, operation: str, wait: bool | None = None) -> None:
        """Spend one more of the tenant's requests (a further step of a request in progress, like
        an agent task's next model call): :class:`RateLimited` or a wait, per the policy."""
        tenant_id = self._context(tenant).tenant_id
        await self._requests.admit(tenant_id, self._policy(tenant_id), operation, wait)

    async def generate(
        self, request: ChatRequest, *, tenant: TenantContext | str, **options: Unpack[GenerateKeywords]
    ) -> ChatResponse:
        """Run one completion for ``tenant`` through every step of the chain.

        The keywords (:class:`~motadata_ai.domain.gateway.call.GenerateKeywords`) override the
        tenant's policy for this call: ``user_id``, ``no_cache``, ``ttl``, ``response_schema``
        (checked before any call: see :func:`compile_schema`), ``fallbacks``, ``max_retries``,
        ``validation_level``, ``timeout`` (seconds per attempt), ``wait`` (queue instead of raising
        :class:`RateLimited`), ``purpose`` and ``origin`` (why, and for which request).
        """
        return await self._chain.complete(self._call("chat", tenant, options, _GENERATE), request)

    async def generate_batch(
        self,
        requests: Sequence[ChatRequest],
        *,
        tenant: TenantContext | str,
        concurrency: int = 8,
        return_exceptions: bool = False,
        **options: Unpack[GenerateKeywords],
    ) -> list[ChatResponse | MotadataError]:
        """Run :meth:`generate` for each request, at most ``concurrency`` (1-1024) at once;
        the answers come back in the requests' order.

        Each request is a whole call of its own: cached, rate-limited (each spends one of the
        tenant's requests: pass ``wait=True`` to queue rather than get :class:`RateLimited`),
        de-duplicated and charged on its own. With ``return_exceptions`` a request that failed holds
        its SDK error in its place and the others go on; without it the first error cancels the
        requests still running and is raised. ``options`` apply to every request.
        """
        return await run_batch(
            requests,
            lambda request: self.generate(request, tenant=tenant, **options),
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

    def stream(
        self, request: ChatRequest, *, tenant: TenantContext | str, **options: Unpack[StreamKeywords]
    ) -> ChatStream:
        """Stream one completion for ``tenant``; a cached answer is replayed as a stream.

        Retries and fallbacks apply until the first chunk arrives. The output guardrails run on
        the whole text at the end: a violation ends the stream with :class:`GuardrailViolation`
        (and nothing is cached). Keywords as for :meth:`generate`, less ``response_schema``.
        The :class:`ChatStream` tells the answer and its cost once it ended; one cut by its caller
        (``aclose()``, a cancelled task) closes the provider's stream and is charged for what it
        delivered.
        """
        return ChatStream(lambda: self._call("stream", tenant, options, _STREAM), self._chain.stream, request)

    async def embed(
        self, texts: Sequence[str], *, tenant: TenantContext | str, **options: Unpack[EmbedKeywords]
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant`` with ``model`` (default: the configured embedding model).

        Cached, rate-limited (the tenant's embedding bucket, not its requests), retried,
        de-duplicated and charged like a completion. ``fallbacks`` only makes sense between models
        of the same vector size; none are used by default.
        """
        call = self._call("embed", tenant, options, _EMBED)
        inputs: Any = texts if isinstance(texts, str) else tuple(texts)  # Validate refuses a str
        request = EmbeddingRequest.model_construct(model=options.get("model") or "", inputs=inputs)
        return await self._chain.embed(call, request)

    def _call(
        self,
        kind: CallKind,
        tenant: TenantContext | str,
        keywords: Mapping[str, Any],
        allowed: frozenset[str],
    ) -> Call:
        unknown = keywords.keys() - allowed
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(f"unknown option {name!r} for a gateway {kind} call", field=name)
        context = self._context(tenant, keywords.get("user_id"))
        tenant_id = context.tenant_id
        fallbacks = keywords.get("fallbacks")
        if kind == "embed":
            options = CallOptions.of(keywords, fallbacks=tuple(fallbacks or ()))
        else:
            options = CallOptions.of(keywords, fallbacks=None if fallbacks is None else tuple(fallbacks))
        origin, purpose, internal = self._requests.origin_of(
            tenant_id, kind, keywords.get("origin"), keywords.get("purpose")
        )
        if context.user_id is None and origin.user_id is not None and origin.tenant_id == tenant_id:
            context = self._context(context, origin.user_id)  # the request's user makes this call
        return Call(context, kind, self._policy(tenant_id), origin, purpose, internal, self._clock(), options)

    # ------------------------------------------------------------------ guarding, feedback, upkeep

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
        level = check_level(self._policy(context.tenant_id).validation_level)
        return await self._audit.guarded(context, level, texts, origin=origin, model=model)

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
        """Wait until every pending usage record is written and every budget alert seen is sent."""
        await self._recorder.flush()
        await self.budget_alerts.flush()

    async def health(self) -> GatewayHealth:
        """Breaker states, and whether the cache, limits store and ledger answer."""
        return await check_health(
            limits=self._limits,
            cache=self._cache,
            ledger=self._ledger,
            stats=self.stats,
            pending=self._recorder.pending,
        )

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
        if self._cache_step is None:
            return 0
        return sum(self._cache_step.semantic.forget(tenant_id, key) for key in cache_keys)

    async def aclose(self) -> None:
        """Write pending usage records; the ports themselves are closed by their owner."""
        await self.flush()

    # ------------------------------------------------------------------ tenants

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
