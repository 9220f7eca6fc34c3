"""How a gateway is put together: its shared stores behind circuits, and its chain of steps.

:func:`assemble` builds everything a :class:`~motadata_ai.domain.gateway.service.Gateway` runs,
once, from its configuration and ports (the facade only passes its constructor's arguments on).
The chain lists the steps in the order a call meets
them, so a request's path reads top to bottom here. Only a store that lives outside the process
(``remote``: Redis, a tiered cache over it) is put behind a circuit: an in-process store cannot be
down, and a circuit around it would only cost time on every call. Likewise the telemetry step is
left out when there is no telemetry or it records nothing (``enabled`` false).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from motadata_ai.domain.gateway.admission import Admission
from motadata_ai.domain.gateway.budget_alerts import BudgetAlerts
from motadata_ai.domain.gateway.circuit_cache import CircuitCache
from motadata_ai.domain.gateway.config import GatewayConfig, LimitsFailurePolicy
from motadata_ai.domain.gateway.fallback_limits import FallbackLimits
from motadata_ai.domain.gateway.health import GatewayStats
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
from motadata_ai.domain.gateway.steps.feedback import FeedbackDesk
from motadata_ai.domain.gateway.steps.guardrails import AuditSink, InputGuardrails, OutputGuardrails
from motadata_ai.domain.gateway.steps.ledger import FeedbackHook, LedgerStep, UsageRecorder
from motadata_ai.domain.gateway.steps.provider import Provider
from motadata_ai.domain.gateway.steps.rate_limit import RateLimit
from motadata_ai.domain.gateway.steps.resilience import Resilience
from motadata_ai.domain.gateway.steps.telemetry import TelemetryStep
from motadata_ai.domain.gateway.steps.validate import ContextWindow, Validate
from motadata_ai.domain.gateway.store_circuit import StoreCircuit
from motadata_ai.domain.gateway.tenants import TenantBook
from motadata_ai.domain.prompts.templates import PromptRegistry
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.leases import LeasePort
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.ports.llm import LLMPort
from motadata_ai.ports.telemetry import TelemetryPort

__all__ = ["GatewayParts", "assemble", "guarded_stores"]


@dataclass(frozen=True, slots=True)
class GatewayParts:
    """The chain and the parts of it the facade reports on or drives directly."""

    chain: Chain
    ledger: UsageLedgerPort | None
    cache: CachePort | None
    limits: LimitsPort
    stats: GatewayStats
    recorder: UsageRecorder
    audit: AuditSink
    admission: Admission
    resilience: Resilience
    cache_step: CacheStep | None
    budget_alerts: BudgetAlerts
    prompts: PromptRegistry
    feedback: FeedbackDesk
    flush: Callable[[], Awaitable[None]]  # every pending usage record written, every alert sent

    @property
    def tenants(self) -> TenantBook:
        """Every tenant's context and effective policy."""
        return self.admission.tenants


def guarded_stores(
    cache: CachePort | None,
    limits: LimitsPort | None,
    *,
    clock: Callable[[], float],
    policy: LimitsFailurePolicy,
) -> tuple[CachePort | None, LimitsPort]:
    """The cache and limits the chain uses: a remote one behind its own circuit (unless it already
    is behind one), an in-process one as it is; without limits, in-process ones."""
    if cache is not None and cache.remote and not isinstance(cache, CircuitCache):
        cache = CircuitCache(cache, circuit=StoreCircuit(clock=clock))
    if limits is None:
        return cache, LocalLimits(clock=clock)
    if limits.remote and not isinstance(limits, FallbackLimits):
        circuit = StoreCircuit(clock=clock)
        limits = FallbackLimits(limits, local=LocalLimits(clock=clock), policy=policy, circuit=circuit)
    return cache, limits


def assemble(
    config: GatewayConfig,
    *,
    llm: LLMPort,
    embeddings: EmbeddingPort,
    default_model: str | None,
    default_embedding_model: str | None,
    cache: CachePort | None,
    limits: LimitsPort | None,
    ledger: UsageLedgerPort | None,
    audit: AuditLogPort | None,
    telemetry: TelemetryPort | None,
    leases: LeasePort | None,
    feedback_hook: FeedbackHook | None,
    budget_alerts: BudgetAlerts | None,
    prompts: PromptRegistry | None,
    clocks: Clocks,
    sleep: Callable[[float], Awaitable[None]],
    random: Callable[[], float],
) -> GatewayParts:
    """Build the chain once: every step with its own state and port, in the order a call meets them.

    ``default_model``/``default_embedding_model`` override the configuration's; without
    ``budget_alerts`` the alerts are claimed in the ledger and counted in telemetry; without
    ``prompts`` the registry starts empty."""
    models = {"default_model": default_model, "default_embedding_model": default_embedding_model}
    updates = {name: model for name, model in models.items() if model is not None}
    config = config.model_copy(update=updates) if updates else config
    budget_alerts = budget_alerts or BudgetAlerts(ledger=ledger, telemetry=telemetry)
    prompts = prompts if prompts is not None else PromptRegistry()
    cache, limits = guarded_stores(cache, limits, clock=clocks.monotonic, policy=config.limits_failure_policy)
    stats = GatewayStats()
    recorder = UsageRecorder(ledger, feedback_hook=feedback_hook, stats=stats)
    sink = AuditSink(audit, telemetry)
    rate_limit = RateLimit(limits, sleep=sleep)
    resilience = Resilience(limits, stats=stats, sleep=sleep, random=random)
    cache_step = None
    if cache is not None:
        cache_step = CacheStep(
            cache, embeddings=embeddings, stats=stats, semantic_max_entries=config.semantic_cache_max_entries
        )
    traced = None
    if telemetry is not None and telemetry.enabled:
        traced = TelemetryStep(telemetry, clock=clocks.monotonic, llm=llm, embeddings=embeddings)
    shared = SharedFlight.configured(leases, config, clock=clocks.monotonic)
    steps: list[Step | None] = [
        ExperimentStep(prompts),
        Validate(has_cache=cache is not None),
        traced,
        LedgerStep(recorder, clocks=clocks, stats=stats, canonical=llm.canonical_model),
        cache_step,
        ContextWindow(llm),
        InputGuardrails(sink),
        BudgetStep(ledger=ledger, flush=recorder.flush, clocks=clocks, stats=stats, alerts=budget_alerts),
        rate_limit,
        Deduplicate(stats, shared=shared),
        OutputGuardrails(sink),
        CoalesceEmbeddings(),
        resilience,
    ]
    chain = Chain([step for step in steps if step is not None], Provider(llm, embeddings, random=random))
    admission = Admission(TenantBook(config), OpenRequests(rate_limit), clock=clocks.monotonic)

    async def flush() -> None:
        await recorder.flush()
        await budget_alerts.flush()

    feedback = FeedbackDesk(ledger, flush=flush)
    return GatewayParts(
        chain, ledger, cache, limits, stats, recorder, sink, admission, resilience, cache_step,
        budget_alerts, prompts, feedback, flush,
    )
