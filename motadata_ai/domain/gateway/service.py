"""Gateway use-case: generate, stream and embed for a tenant, through a chain of policy steps.

The :class:`Gateway` is a facade: it builds the chain once from its configuration and ports
(:func:`~motadata_ai.domain.gateway.assembly.assemble`) and runs each call down it. A call meets
the steps in this order (``domain/gateway/steps/``)::

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
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Unpack

from motadata_ai.domain.gateway.assembly import assemble
from motadata_ai.domain.gateway.batch import run_batch
from motadata_ai.domain.gateway.budget_alerts import BudgetAlerts
from motadata_ai.domain.gateway.call import EmbedKeywords, GenerateKeywords, StreamKeywords
from motadata_ai.domain.gateway.chat_stream import ChatStream
from motadata_ai.domain.gateway.config import GatewayConfig, TenantPolicy
from motadata_ai.domain.gateway.fallback_limits import FallbackLimits
from motadata_ai.domain.gateway.health import GatewayHealth, GatewayStats, check_health
from motadata_ai.domain.gateway.steps import Chain
from motadata_ai.domain.gateway.steps.base import Clocks
from motadata_ai.domain.gateway.steps.feedback import FeedbackDesk
from motadata_ai.domain.gateway.steps.ledger import FeedbackHook
from motadata_ai.domain.gateway.tenants import PolicyHook
from motadata_ai.domain.guardrails.context import ContextCheck, ContextOrigin
from motadata_ai.domain.prompts.templates import PromptRegistry
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.calls import CallOrigin
from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelCapabilities,
    )
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import FeedbackRecord
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.leases import LeasePort
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.ports.llm import LLMPort
from motadata_ai.ports.telemetry import TelemetryPort

__all__ = ["Gateway", "GatewayHealth", "GatewayStats"]


class Gateway:
    """Every LLM call and embedding of a tenant goes through here.

    Only ``llm`` and ``embeddings`` are required. Without ``cache`` nothing is cached; without
    ``limits`` rate limits and breakers hold in this process; without ``ledger`` no usage is
    stored (budgets then count this process's spend only); without ``audit`` guardrail events are
    only logged; without ``telemetry`` nothing is traced; with ``leases`` identical in-flight calls are
    de-duplicated across the instances sharing that store. ``budget_alerts`` sends the budgets'
    alerts (default: claimed in the ledger, counted in telemetry); ``prompts`` holds the templates a
    call names with ``prompt=`` (default: an empty registry); ``on_policy_change`` is told of each
    change of a tenant's policy (:data:`~motadata_ai.domain.gateway.tenants.PolicyHook`).

    A ``cache`` or ``limits`` that lives outside the process (its ``remote`` is true: Redis) is
    put behind its own circuit (:class:`CircuitCache`, :class:`FallbackLimits` with
    ``limits_failure_policy``) unless it already is one, so a shared store that fails is left
    alone for a short, growing interval instead of costing a socket timeout on every call.
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
        on_policy_change: PolicyHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        config = config or GatewayConfig()
        models = {"default_model": default_model, "default_embedding_model": default_embedding_model}
        updates = {name: model for name, model in models.items() if model is not None}
        config = config.model_copy(update=updates) if updates else config
        self.budget_alerts = budget_alerts or BudgetAlerts(ledger=ledger, telemetry=telemetry)
        self.prompts = prompts if prompts is not None else PromptRegistry()
        parts = assemble(
            config,
            llm=llm,
            embeddings=embeddings,
            cache=cache,
            limits=limits,
            ledger=ledger,
            audit=audit,
            telemetry=telemetry,
            leases=leases,
            feedback_hook=feedback_hook,
            budget_alerts=self.budget_alerts,
            prompts=self.prompts,
            clocks=Clocks(clock, wall_clock),
            sleep=sleep,
            random=random,
        )
        self._llm, self._ledger, self._parts = llm, ledger, parts
        self._admission, self._tenants = parts.admission, parts.admission.tenants
        self._tenants.on_change = on_policy_change
        self._feedback = FeedbackDesk(ledger, flush=self.flush)

    # ------------------------------------------------------------------ properties and policy

    @property
    def config(self) -> GatewayConfig:
        """The gateway-wide configuration (every tenant's overrides in ``tenants``)."""
        return self._tenants.config

    @property
    def stats(self) -> GatewayStats:
        """In-process counters since start (``limits_errors``: failures of the limits store)."""
        stats, limits = self._parts.stats, self._parts.limits
        if isinstance(limits, FallbackLimits):
            stats.limits_errors = limits.counters.failures
        return stats

    @property
    def default_model(self) -> str:
        """The chat model used when a request names none."""
        return self._tenants.config.default_model

    @property
    def default_embedding_model(self) -> str:
        """The embedding model used when a call names none."""
        return self._tenants.config.default_embedding_model

    @property
    def chain(self) -> Chain:
        """The steps a call goes through, outermost first."""
        return self._parts.chain

    def capabilities(self, model: str | None = None) -> ModelCapabilities:
        """What ``model`` (default: :attr:`default_model`) can do, as the LLM port advertises it."""
        return self._llm.capabilities(model or self.config.default_model)

    def set_tenant_policy(
        self, tenant_id: TenantContext | str, policy: TenantPolicy | None, *, user_id: str | None = None
    ) -> None:
        """Override (or with ``None`` reset) one tenant's policy at run time; ``on_policy_change``
        (the app: one ``config.tenant_policy`` audit event) is told, with ``user_id``, who changed it."""
        self._tenants.set_policy(self._tenants.context(tenant_id).tenant_id, policy, user_id)

    def policy(self, tenant_id: TenantContext | str) -> GatewayConfig:
        """The effective configuration for ``tenant_id`` (gateway defaults with its overrides)."""
        return self._tenants.policy(self._tenants.context(tenant_id).tenant_id)

    def backoff(self, attempt: int, policy: GatewayConfig, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): exponential, capped, with jitter;
        at least the provider's ``retry_after`` when it gave one."""
        return self._parts.resilience.backoff(attempt, policy, retry_after)

    # ------------------------------------------------------------------ requests and calls

    def request(
        self,
        tenant_id: TenantContext | str,
        *,
        operation: str,
        wait: bool | None = None,
        conversation_id: str | None = None,
        user_id: str | None = None,
        spend: bool = True,
    ) -> AbstractAsyncContextManager[CallOrigin]:
        """One user request (``rag.query``, ``agent.execute_task`` ...): it spends one of the
        tenant's requests at its start (:class:`RateLimited` or a wait, per the policy), and the
        gateway calls made inside the block are made on its behalf and spend none. Inside another
        request of the same tenant, it joins that one and spends nothing. ``conversation_id`` names
        the conversation the request is a turn of (its calls' spans carry it).

        The calls inside are attributed to ``user_id`` (default: the tenant context's user) unless
        a call names its own; the origin's ``usage`` sums their records (the request's cost).
        ``spend=False`` opens a request that spends none of the tenant's requests (bulk work such
        as an ingest: its calls are attributed to it and limited by their own buckets)."""
        return self._admission.request(tenant_id, operation, wait, conversation_id, user_id, spend)

    async def admit(
        self, tenant_id: TenantContext | str, *, operation: str, wait: bool | None = None
    ) -> None:
        """Spend one more of the tenant's requests (a further step of a request in progress, like
        an agent task's next model call): :class:`RateLimited` or a wait, per the policy."""
        await self._admission.admit(tenant_id, operation, wait)

    async def generate(
        self, request: ChatRequest, *, tenant_id: TenantContext | str, **options: Unpack[GenerateKeywords]
    ) -> ChatResponse:
        """Run one completion for ``tenant_id`` through every step of the chain.

        The keywords (:class:`~motadata_ai.domain.gateway.call.GenerateKeywords`) override the
        tenant's policy for this call: ``user_id``, ``no_cache``, ``ttl``, ``response_schema``
        (checked before any call: see :func:`compile_schema`), ``fallbacks``, ``max_retries``,
        ``validation_level``, ``timeout`` (seconds per attempt), ``wait`` (queue instead of raising
        :class:`RateLimited`), ``purpose`` and ``origin`` (why, and for which request).
        """
        return await self._parts.chain.complete(self._admission.call("chat", tenant_id, options), request)

    async def generate_batch(
        self,
        requests: Sequence[ChatRequest],
        *,
        tenant_id: TenantContext | str,
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
            lambda request: self.generate(request, tenant_id=tenant_id, **options),
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

    def stream(
        self, request: ChatRequest, *, tenant_id: TenantContext | str, **options: Unpack[StreamKeywords]
    ) -> ChatStream:
        """Stream one completion for ``tenant_id``; a cached answer is replayed as a stream.

        Retries and fallbacks apply until the first chunk arrives. The output guardrails run on
        the whole text at the end: a violation ends the stream with :class:`GuardrailViolation`
        (and nothing is cached). Keywords as for :meth:`generate`, less ``response_schema``.
        The :class:`ChatStream` tells the answer and its cost once it ended; one cut by its caller
        (``aclose()``, a cancelled task) closes the provider's stream and is charged for what it
        delivered.
        """
        admission, chain = self._admission, self._parts.chain
        return ChatStream(lambda: admission.call("stream", tenant_id, options), chain.stream, request)

    async def embed(
        self, texts: Sequence[str], *, tenant_id: TenantContext | str, **options: Unpack[EmbedKeywords]
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant_id`` with ``model`` (default: the configured embedding model).

        Cached, rate-limited (the tenant's embedding bucket, not its requests), retried,
        de-duplicated and charged like a completion. ``fallbacks`` only makes sense between models
        of the same vector size; none are used by default.
        """
        call = self._admission.call("embed", tenant_id, options)
        inputs: Any = texts if isinstance(texts, str) else tuple(texts)  # Validate refuses a str
        request = EmbeddingRequest.model_construct(model=options.get("model") or "", inputs=inputs)
        return await self._parts.chain.embed(call, request)

    # ------------------------------------------------------------------ guarding, feedback, upkeep

    async def guard_context(
        self,
        texts: Sequence[str],
        *,
        tenant_id: TenantContext | str,
        origin: ContextOrigin,
        model: str | None = None,
    ) -> ContextCheck:
        """Guard untrusted text a prompt is about to quote (passages, tool results, memories).

        The tenant's ``validation_level`` decides (see :mod:`motadata_ai.domain.guardrails.context`):
        PII is redacted and injection-like texts are flagged or dropped, never raising; each
        suspected injection and each redaction is written to the audit log with ``origin``.
        """
        context = self._tenants.context(tenant_id)
        level = self._tenants.policy(context.tenant_id).validation_level
        return await self._parts.audit.guarded(context, level, texts, origin=origin, model=model)

    async def record_feedback(
        self,
        response_id: str,
        *,
        tenant_id: TenantContext | str,
        rating: int,
        comment: str = "",
        user_id: str | None = None,
    ) -> FeedbackRecord:
        """Record a rating (1-5) and comment against one of the tenant's responses.

        Raises :class:`NotFound` when the tenant has no such response in the ledger, and
        :class:`ValidationError` for a rating outside 1-5.
        """
        context = self._tenants.context(tenant_id, user_id)
        return await self._feedback.record(context, response_id, rating=rating, comment=comment)

    async def flush(self) -> None:
        """Wait until every pending usage record is written and every budget alert seen is sent."""
        await self._parts.recorder.flush()
        await self.budget_alerts.flush()

    async def health(self) -> GatewayHealth:
        """Breaker states, and whether the cache, limits store and ledger answer."""
        parts = self._parts
        return await check_health(
            limits=parts.limits,
            cache=parts.cache,
            ledger=self._ledger,
            stats=self.stats,
            pending=parts.recorder.pending,
        )

    async def invalidate(self, tenant_id: TenantContext | str) -> int:
        """Drop every cached gateway answer of ``tenant_id`` (and nothing of another tenant or of
        another subsystem); returns how many entries went."""
        tenant_id = self._tenants.context(tenant_id).tenant_id
        if self._parts.cache is None:
            return 0
        return await self._parts.cache.delete_tenant(tenant_id, namespace=keys.GATEWAY)

    def forget_cached(self, tenant_id: str, cache_keys: Sequence[str]) -> int:
        """Drop the prompt vectors of ``cache_keys`` from the tenant's semantic index (erasure of
        a user's cached answers); return how many it held."""
        cache_step = self._parts.cache_step
        if cache_step is None:
            return 0
        return sum(cache_step.semantic.forget(tenant_id, key) for key in cache_keys)

    async def aclose(self) -> None:
        """Write pending usage records; the ports themselves are closed by their owner."""
        await self.flush()
