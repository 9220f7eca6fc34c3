"""Value types of the usage and cost ledger, feedback, budgets and the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.tenancy import TenantId

Operation = Literal["chat", "embeddings"]
Outcome = Literal["ok", "error", "blocked", "rate_limited", "circuit_open", "budget_exceeded", "invalid"]
Source = Literal["provider", "cache", "semantic_cache", "dedup", "none"]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class UsageRecord(ValueModel):
    """One gateway call: who, which model, tokens, cost, latency and how it ended.

    ``source`` says where the answer came from; ``saved_usd`` is the provider cost a cache or
    de-duplication hit avoided. ``attempts`` counts provider attempts (a retried call is one record
    and is charged once).
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


class ModelPrice(ValueModel):
    """A custom price for a model the cost map does not know, in USD per token."""

    model_config = ConfigDict(frozen=True)

    input_per_token: float = Field(0.0, ge=0.0, le=1.0)
    output_per_token: float = Field(0.0, ge=0.0, le=1.0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost of a call with these token counts."""
        return input_tokens * self.input_per_token + output_tokens * self.output_per_token


AuditKind = Literal["guardrail_violation", "pii_redacted", "injection_suspected"]


class AuditEvent(ValueModel):
    """A guardrail event of one tenant: what was found or blocked (never the sensitive text itself)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=_new_id)
    tenant_id: TenantId
    user_id: str | None = None
    kind: AuditKind
    stage: Literal["input", "output"] = "input"
    level: str = "medium"
    model: str | None = None
    reasons: tuple[str, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=_now)
