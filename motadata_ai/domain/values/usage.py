"""Value types of the usage and cost ledger, feedback, budgets and the audit log."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.moments import aware
from motadata_ai.domain.values.tenancy import TenantId

Operation = Literal["chat", "embeddings"]
Outcome = Literal["ok", "error", "blocked", "rate_limited", "circuit_open", "budget_exceeded", "invalid"]
Source = Literal["provider", "cache", "semantic_cache", "dedup", "none"]
Arm = Literal["champion", "challenger"]
BudgetPeriod = Literal["daily", "monthly"]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class UsageRecord(ValueModel):
    """One gateway call: who, which model, tokens, cost, latency and how it ended.

    ``source`` says where the answer came from; ``saved_usd`` is the provider cost a cache or
    de-duplication hit avoided. ``attempts`` counts provider attempts (a retried call is one record
    and is charged once). ``model`` is the one canonical, provider-qualified name
    (``openai/gpt-4o-mini``). ``request_id`` names the user request the call was made for (every
    call of one RAG query or agent task shares it), ``use_case`` that request's operation
    (``rag.query``, ``agent.execute_task``, ``unified_query``, ``memory.recall``, ``gateway.generate``
    for a direct call ...) and ``purpose`` why the call was made inside it (``query_embedding``,
    ``answer``, ``agent_step`` ...). ``fingerprint`` is the hash of the request's cache key (no prompt
    text), so repeated prompts can be counted.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=_new_id)
    tenant_id: TenantId
    user_id: str | None = None
    operation: Operation = "chat"
    model: str
    provider: str = ""
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0.0)
    saved_usd: float = Field(0.0, ge=0.0)
    latency_ms: float = Field(0.0, ge=0.0)
    source: Source = "provider"
    outcome: Outcome = "ok"
    attempts: int = Field(0, ge=0)
    error: str | None = None
    response_id: str | None = None
    created_at: datetime = Field(default_factory=_now)
    request_id: str | None = Field(None, max_length=64)
    use_case: str | None = Field(None, max_length=64)
    purpose: str | None = Field(None, max_length=32)
    fingerprint: str | None = Field(None, max_length=128)
    experiment: str | None = Field(None, max_length=64, description="The A/B experiment of the call")
    arm: Arm | None = Field(None, description="Its arm in that experiment")

    @property
    def cache_hit(self) -> bool:
        """``True`` when the answer came from the cache or a shared in-flight call."""
        return self.source in ("cache", "semantic_cache", "dedup")


class FeedbackRecord(ValueModel):
    """A user's rating (1 = bad … 5 = good) and comment on one response of one tenant."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=_new_id)
    tenant_id: TenantId
    response_id: str = Field(min_length=1, max_length=200)
    user_id: str | None = None
    rating: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=10_000)
    created_at: datetime = Field(default_factory=_now)


class UsageSummary(ValueModel):
    """Totals of a tenant's calls for one day or one model (the other key is ``None``)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    day: date | None = None
    model: str | None = None
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    saved_usd: float = 0.0


class CacheSavings(ValueModel):
    """What the cache (and de-duplication) saved a tenant over a period."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    calls: int = 0
    hits: int = 0
    saved_usd: float = 0.0

    @property
    def hit_rate(self) -> float:
        """Hits over calls (0 when there were no calls)."""
        return self.hits / self.calls if self.calls else 0.0


class BudgetAlert(ValueModel):
    """A budget's warning threshold crossed in one period (claimed once across every instance).

    ``budget`` names the budget (``tenant``, ``user:bob``, ``model:openai/gpt-4o``,
    ``user:bob|model:...``); ``period_start`` is the UTC start of the day or month it counts;
    ``threshold`` is the fraction of ``limit_usd`` reached (``spent_usd`` when it was seen).
    """

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    budget: str = Field(min_length=1, max_length=300)
    period: BudgetPeriod
    period_start: datetime
    threshold: float = Field(gt=0, le=10)
    limit_usd: float = Field(ge=0)
    spent_usd: float = Field(ge=0)
    user_id: str | None = None
    model: str | None = None
    created_at: datetime = Field(default_factory=_now)

    @property
    def id(self) -> str:
        """The alert's identity: tenant, budget, period and threshold (the same on every instance)."""
        stamp = self.period_start.astimezone(UTC).strftime("%Y%m%d")
        return f"{self.tenant_id}:{self.budget}:{self.period}:{stamp}:{self.threshold:g}"


class ArmSummary(ValueModel):
    """One arm of an experiment over a period: calls, cost, latency percentiles, errors, feedback.

    ``errors`` counts calls whose outcome is not ``ok``; ``latency_p50_ms`` / ``latency_p95_ms``
    interpolate linearly between the calls' latencies (PostgreSQL's ``percentile_cont``);
    ``mean_rating`` is ``None`` without feedback.
    """

    model_config = ConfigDict(frozen=True)

    arm: Arm
    calls: int = 0
    cost_usd: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    errors: int = 0
    feedback_count: int = 0
    mean_rating: float | None = None

    @property
    def error_rate(self) -> float:
        """Errors over calls (0 without calls)."""
        return self.errors / self.calls if self.calls else 0.0


class ModelPrice(ValueModel):
    """A custom price for a model the cost map does not know, in USD per token."""

    model_config = ConfigDict(frozen=True)

    input_per_token: float = Field(0.0, ge=0.0, le=1.0)
    output_per_token: float = Field(0.0, ge=0.0, le=1.0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost of a call with these token counts."""
        return input_tokens * self.input_per_token + output_tokens * self.output_per_token


AuditKind = Literal["guardrail_violation", "pii_redacted", "injection_suspected"]
"""The guardrail events (each the action ``guardrail.<kind>``)."""

AuditResult = Literal["success", "failure", "denied"]
"""How an audited operation ended: done, failed, or refused (a guardrail, a missing consent ...)."""

AUDIT_ACTION_PATTERN = r"[a-z][a-z0-9_]{0,31}(?:\.[a-z][a-z0-9_]{0,31}){1,3}"
"""An audit action: dotted lower-case words, ``<area>.<operation>`` (``rag.query``, ``ml.predict``)."""

_ACTION = re.compile(AUDIT_ACTION_PATTERN)
_GUARDRAIL_RESULTS: dict[str, AuditResult] = {
    "guardrail_violation": "denied",
    "pii_redacted": "success",
    "injection_suspected": "success",
}


class AuditEvent(ValueModel):
    """One audited operation of one tenant, in the fixed format of the audit trail.

    ``timestamp``, ``tenant_id``, ``user_id``, ``action`` (``rag.query``, ``ml.predict``,
    ``guardrail.pii_redacted`` ...), ``resource`` (what it acted on: a model, a document id ...),
    ``result`` (``success``/``failure``/``denied``), ``metadata`` (counts, kinds, error types:
    never prompt text or personal data) and the ``trace_id`` of the request.

    A guardrail event may still be built the short way (``AuditEvent(tenant_id=..., kind=...,
    stage=..., level=..., model=..., reasons=..., details=...)``): the kind becomes the action
    ``guardrail.<kind>`` and the rest goes into ``metadata``; ``kind``, ``stage``, ``level``,
    ``model``, ``reasons`` and ``details`` read them back.
    """

    model_config = ConfigDict(frozen=True, validate_default=True)

    id: str = Field(default_factory=_new_id)
    timestamp: datetime = Field(default_factory=_now)
    tenant_id: TenantId
    user_id: str | None = Field(None, max_length=256)
    action: str = Field("", description="Required; a guardrail event built the short way sets it")
    resource: str = Field("", max_length=512)
    result: AuditResult = "success"
    metadata: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = Field(None, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _guardrail_shorthand(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "kind" not in data:
            return data
        data = dict(data)
        kind = data.pop("kind")
        metadata = dict(data.get("metadata") or {})
        details = data.pop("details", None) or {}
        metadata.update(
            {
                "stage": data.pop("stage", "input"),
                "level": data.pop("level", "medium"),
                "model": data.pop("model", None),
                "reasons": list(data.pop("reasons", ()) or ()),
                "details": dict(details),
            }
        )
        if "created_at" in data:
            data["timestamp"] = data.pop("created_at")
        data["metadata"] = metadata
        data["action"] = f"guardrail.{kind}"
        data.setdefault("resource", metadata["model"] or "")
        data.setdefault("result", _GUARDRAIL_RESULTS.get(str(kind), "success"))
        return data

    @field_validator("action", mode="after")
    @classmethod
    def _check_action(cls, value: str) -> str:
        if _ACTION.fullmatch(value) is None:
            raise ValueError(f"action {value!r:.60} must look like 'rag.query' ({AUDIT_ACTION_PATTERN})")
        return value

    @property
    def created_at(self) -> datetime:
        """The same as ``timestamp``."""
        return self.timestamp

    @property
    def kind(self) -> str | None:
        """The guardrail kind of a ``guardrail.*`` event, else ``None``."""
        area, _, rest = self.action.partition(".")
        return rest if area == "guardrail" else None

    @property
    def stage(self) -> str | None:
        """A guardrail event's stage (``input``/``output``)."""
        return self.metadata.get("stage")

    @property
    def level(self) -> str | None:
        """A guardrail event's level."""
        return self.metadata.get("level")

    @property
    def model(self) -> str | None:
        """A guardrail event's model."""
        return self.metadata.get("model")

    @property
    def reasons(self) -> tuple[str, ...]:
        """A guardrail event's reasons."""
        return tuple(self.metadata.get("reasons") or ())

    @property
    def details(self) -> dict[str, Any]:
        """A guardrail event's details."""
        return dict(self.metadata.get("details") or {})


class AuditQuery(ValueModel):
    """Which of a tenant's audit events to read: a time range (``since`` inclusive, ``until``
    exclusive), one user, one action, one result; newest first, at most ``limit``."""

    model_config = ConfigDict(frozen=True)

    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None
    action: str | None = None
    result: AuditResult | None = None
    limit: int = Field(100, ge=0, le=100_000)

    def matches(self, event: AuditEvent) -> bool:
        """Whether ``event`` is selected (for stores that filter in process)."""
        stamp = event.timestamp
        return (
            (self.since is None or stamp >= aware(self.since))
            and (self.until is None or stamp < aware(self.until))
            and (self.user_id is None or event.user_id == self.user_id)
            and (self.action is None or event.action == self.action)
            and (self.result is None or event.result == self.result)
        )
