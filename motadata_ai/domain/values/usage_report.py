"""Value types of the usage reports: rows grouped by model, user, operation or day, and the
ledger figures the recommendations are computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantId

__all__ = [
    "GROUP_BYS",
    "GroupBy",
    "ModelRating",
    "Recommendation",
    "RecommendationKind",
    "RepeatedRequest",
    "UsageReport",
    "UsageReportRow",
    "check_group_by",
]

GroupBy = Literal["model", "user", "operation", "day"]
"""What a report groups by: the canonical model name, the user, the use-case operation
(``rag.query``, ``agent.execute_task`` ...) or the UTC calendar day (``2026-01-31``)."""

GROUP_BYS: tuple[str, ...] = get_args(GroupBy)


def check_group_by(group_by: str) -> GroupBy:
    """``group_by`` when it is one of :data:`GROUP_BYS`, else :class:`ValidationError`."""
    if group_by not in GROUP_BYS:
        raise ValidationError(
            f"group_by must be one of {', '.join(GROUP_BYS)}, got {group_by!r}", field="group_by"
        )
    return group_by  # type: ignore[return-value]


class UsageReportRow(ValueModel):
    """The figures of one group of calls (``key``: ``None`` for calls without a user, or the total).

    ``errors`` counts calls whose outcome was not ``ok`` (errors, refusals, rate limits, blocks);
    the latencies are percentiles over every call of the group (continuous, as PostgreSQL's
    ``percentile_cont``).
    """

    model_config = ConfigDict(frozen=True)

    key: str | None = None
    calls: int = Field(0, ge=0)
    cache_hits: int = Field(0, ge=0)
    errors: int = Field(0, ge=0)
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0.0)
    saved_usd: float = Field(0.0, ge=0.0)
    latency_p50_ms: float = Field(0.0, ge=0.0)
    latency_p95_ms: float = Field(0.0, ge=0.0)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @property
    def cache_hit_rate(self) -> float:
        """Cache (and de-duplication) hits over calls (0 without calls)."""
        return self.cache_hits / self.calls if self.calls else 0.0

    @property
    def error_rate(self) -> float:
        """Calls that did not end ``ok`` over calls (0 without calls)."""
        return self.errors / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The row with its rates, for JSON and CSV output."""
        return {
            **self.model_dump(),
            "total_tokens": self.total_tokens,
            "cache_hit_rate": self.cache_hit_rate,
            "error_rate": self.error_rate,
        }


class UsageReport(ValueModel):
    """A tenant's usage over ``[since, until)`` grouped by ``group_by``, rows by key, and the total."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    group_by: GroupBy
    since: datetime | None = None
    until: datetime | None = None
    rows: tuple[UsageReportRow, ...] = ()
    total: UsageReportRow = Field(default_factory=UsageReportRow)


class RepeatedRequest(ValueModel):
    """One request fingerprint (the hash of its cache key: no prompt text) asked ``calls`` times,
    ``paid`` of them at the provider (the rest were cache or de-duplication hits)."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    model: str
    calls: int = Field(ge=0)
    paid: int = Field(ge=0)
    cost_usd: float = Field(0.0, ge=0.0)

    @property
    def avoidable_usd(self) -> float:
        """What the paid repeats cost beyond the first (a cache entry living long enough would
        have answered them)."""
        return self.cost_usd * (self.paid - 1) / self.paid if self.paid > 1 else 0.0


class ModelRating(ValueModel):
    """The feedback given on one model's responses over a period: how many ratings and their
    mean (``None`` without feedback)."""

    model_config = ConfigDict(frozen=True)

    model: str
    feedback_count: int = Field(0, ge=0)
    mean_rating: float | None = None


RecommendationKind = Literal["longer_cache_ttl", "cheaper_fallback", "low_cache_hit_rate"]


class Recommendation(ValueModel):
    """One cost recommendation and the figure behind it (``figure`` against ``threshold``)."""

    model_config = ConfigDict(frozen=True)

    kind: RecommendationKind
    message: str
    figure: float
    threshold: float
    estimated_savings_usd: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict)
