"""Gateway use-case: generate, stream and embed for a tenant, through a chain of policy steps.

The :class:`Gateway` is a facade: it builds the chain once from its configuration and ports
(:func:`~motadata_ai.domain.gateway.assembly.assemble`, which lists the steps in the order a call
meets them) and runs each call down it. Everything outside the process (cache, limits, ledger,
audit, telemetry, clock, sleep, randomness) comes in through the constructor.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
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
from motadata_ai.domain.gateway.steps.ledger import FeedbackHook
from motadata_ai.domain.gateway.tenants import PolicyHook
from motadata_ai.domain.guardrails.context import ContextCheck, ContextOrigin
from motadata_ai.domain.prompts.templates import PromptRegistry
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.arguments import check_collection
from motadata_ai.domain.values.calls import CallOrigin
from motadata_ai.domain.values.errors import MotadataError, ValidationError
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

    Only ``llm`` and ``embeddings`` are required; each other port that is left out switches its
    policy off or keeps it in this process (see :func:`~motadata_ai.domain.gateway.assembly.assemble`).
    A remote ``cache`` or ``limits`` (Redis) is put behind its own circuit. ``on_policy_change`` is
    told of each change of a tenant's policy (:data:`~motadata_ai.domain.gateway.tenants.PolicyHook`).
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
        self._parts = parts = assemble(
            config or GatewayConfig(),
            llm=llm,
            embeddings=embeddings,
            default_model=default_model,
            default_embedding_model=default_embedding_model,
            cache=cache,
            limits=limits,
            ledger=ledger,
            audit=audit,
            telemetry=telemetry,
            leases=leases,
            feedback_hook=feedback_hook,
            budget_alerts=budget_alerts,
            prompts=prompts,
            clocks=Clocks(clock, wall_clock),
            sleep=sleep,
            random=random,
        )
        self.budget_alerts, self.prompts = parts.budget_alerts, parts.prompts
        self._llm, self._admission, self._tenants = llm, parts.admission, parts.tenants
        self._tenants.on_change = on_policy_change

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

    def request(
        self, tenant_id: TenantContext | str, *, operation: str, wait: bool | None = None,
        conversation_id: str | None = None, user_id: str | None = None, spend: bool = True,
    ) -> AbstractAsyncContextManager[CallOrigin]:
        """One user request (``rag.query`` ...): it spends one of the tenant's requests at its start
        (:class:`RateLimited` or a wait, per the policy), and the calls made inside it spend none
        and are attributed to ``user_id`` (default: the context's user); a request inside another
        of the same tenant joins it. The origin's ``usage`` sums the calls' records. ``spend=False``
        spends no request (bulk work such as an ingest, limited by its calls' own buckets)."""
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
        """Run one completion for ``tenant_id`` through every step of the chain; the keywords
        (:class:`~motadata_ai.domain.gateway.call.GenerateKeywords`) override the tenant's policy."""
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
        """Run :meth:`generate` for each request (each a whole call of its own), at most
        ``concurrency`` (1-1024) at once, answers in the requests' order. With ``return_exceptions``
        a failed request holds its SDK error in its place; without it the first error cancels the
        rest and is raised."""
        return await run_batch(
            requests,
            lambda request: self.generate(request, tenant_id=tenant_id, **options),
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

    def stream(
        self, request: ChatRequest, *, tenant_id: TenantContext | str, **options: Unpack[StreamKeywords]
    ) -> ChatStream:
        """Stream one completion for ``tenant_id`` (a cached answer is replayed as a stream);
        keywords as for :meth:`generate`, less ``response_schema``. Retries and fallbacks apply
        until the first chunk; the output guardrails run on the whole text at the end."""
        admission, chain = self._admission, self._parts.chain
        return ChatStream(lambda: admission.call("stream", tenant_id, options), chain.stream, request)

    async def embed(
        self, texts: Sequence[str], *, tenant_id: TenantContext | str, **options: Unpack[EmbedKeywords]
    ) -> EmbeddingResponse:
        """Embed ``texts`` for ``tenant_id`` with ``model`` (default: the configured embedding model),
        cached, rate-limited (the tenant's embedding bucket), retried and charged like a completion."""
        call = self._admission.call("embed", tenant_id, options)
        # Validate refuses a str and anything that is not a sequence
        inputs: Any = tuple(texts) if isinstance(texts, Iterable) and not isinstance(texts, str) else texts
        request = EmbeddingRequest.model_construct(model=options.get("model") or "", inputs=inputs)
        return await self._parts.chain.embed(call, request)

    async def guard_context(
        self, texts: Sequence[str], *, tenant_id: TenantContext | str, origin: ContextOrigin,
        model: str | None = None,
    ) -> ContextCheck:
        """Guard untrusted text a prompt is about to quote at the tenant's ``validation_level``
        (PII redacted, injections flagged or dropped, never raising), auditing each event."""
        context = self._tenants.context(tenant_id)
        texts = check_collection("texts", texts)
        if not all(isinstance(text, str) for text in texts):
            raise ValidationError("texts must hold only strings", field="texts")
        level = self._tenants.policy(context.tenant_id).validation_level
        return await self._parts.audit.guarded(context, level, texts, origin=origin, model=model)

    async def record_feedback(
        self, response_id: str, *, tenant_id: TenantContext | str, rating: int, comment: str = "",
        user_id: str | None = None,
    ) -> FeedbackRecord:
        """Record a rating (1-5) and comment against one of the tenant's responses
        (:class:`NotFound`, :class:`ValidationError`)."""
        context = self._tenants.context(tenant_id, user_id)
        return await self._parts.feedback.record(context, response_id, rating=rating, comment=comment)

    async def flush(self) -> None:
        """Wait until every pending usage record is written and every budget alert seen is sent."""
        await self._parts.flush()

    async def health(self) -> GatewayHealth:
        """Breaker states, and whether the cache, limits store and ledger answer."""
        parts = self._parts
        return await check_health(
            limits=parts.limits, cache=parts.cache, ledger=parts.ledger, stats=self.stats,
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
