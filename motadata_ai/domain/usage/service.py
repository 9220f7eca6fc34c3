"""The usage use-case (``ai.usage``): reports, the records themselves, and recommendations.

It reads the usage ledger (every gateway call's record: tenant, user, request, use-case, purpose,
canonical model, tokens, cost, cache hit, latency, outcome) and writes nothing. Pending records
of this process are flushed first, so a report right after a call includes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time

from motadata_ai.domain.usage.recommendations import PriceOf, RecommendationPolicy
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.moments import aware
from motadata_ai.domain.values.tenancy import validate_tenant_id
from motadata_ai.domain.values.usage import UsageRecord
from motadata_ai.domain.values.usage_report import (
    Recommendation,
    UsageReport,
    check_group_by,
)
from motadata_ai.ports.ledger import UsageLedgerPort

__all__ = ["FallbacksOf", "UsageService", "as_moment"]

FallbacksOf = Callable[[str], Sequence[str]]
"""The fallback models a tenant's gateway policy configures."""


def as_moment(value: datetime | date | str | None, *, field: str) -> datetime | None:
    """``value`` as an aware datetime: a date is its UTC midnight, a string ISO 8601, naive is UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as error:
            raise ValidationError(
                f"{field} must be an ISO date or time, got {value!r}", field=field
            ) from error
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise ValidationError(f"{field} must be a datetime, a date or an ISO string", field=field)


async def _nothing() -> None:
    return None


class UsageService:
    """Reports, records and recommendations over a :class:`UsageLedgerPort`.

    ``flush`` writes this process's pending records first (the gateway's); ``fallbacks_of`` and
    ``price_of`` tell the recommendations what the tenant could use instead of a model and what
    each model costs.
    """

    def __init__(
        self,
        ledger: UsageLedgerPort,
        *,
        flush: Callable[[], Awaitable[None]] = _nothing,
        fallbacks_of: FallbacksOf | None = None,
        price_of: PriceOf | None = None,
        policy: RecommendationPolicy | None = None,
    ) -> None:
        self._ledger = ledger
        self._flush = flush
        self._fallbacks_of = fallbacks_of or (lambda tenant_id: ())
        self._price_of = price_of or (lambda model: 0.0)
        self.policy = policy or RecommendationPolicy()

    @property
    def ledger(self) -> UsageLedgerPort:
        """The usage ledger itself (records, feedback, spend, per-day and per-model summaries)."""
        return self._ledger

    async def report(
        self,
        *,
        tenant_id: str,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        group_by: str = "model",
    ) -> UsageReport:
        """The tenant's usage in ``[since, until)`` grouped by ``model``, ``user``, ``operation``
        or ``day``: per row and in total, tokens, cost, calls, cache hits and hit rate, savings,
        p50/p95 latency, errors and error rate. An unknown ``group_by`` is :class:`ValidationError`."""
        tenant_id = validate_tenant_id(tenant_id)
        by = check_group_by(group_by)
        start, end = self._period(since, until)
        await self._flush()
        return await self._ledger.usage_report(tenant=tenant_id, group_by=by, since=start, until=end)

    async def records(
        self,
        *,
        tenant_id: str,
        user_id: str | None = None,
        request_id: str | None = None,
        limit: int = 100,
    ) -> list[UsageRecord]:
        """The tenant's latest records, newest first (of one user, of one request)."""
        tenant_id = validate_tenant_id(tenant_id)
        if not isinstance(limit, int) or not 0 <= limit <= 100_000:
            raise ValidationError(f"limit must be within 0..100000, got {limit!r}", field="limit")
        await self._flush()
        return await self._ledger.usage_records(
            tenant=tenant_id, limit=limit, user_id=user_id, request_id=request_id
        )

    async def recommendations(
        self,
        *,
        tenant_id: str,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
    ) -> list[Recommendation]:
        """What would lower the tenant's cost, each with its figure: a longer cache TTL for
        requests paid again and again, a cheaper configured fallback for a dominant model (unless its
        users rate it worse, see :class:`RecommendationPolicy`), and a
        warning for a cache hit rate under the line (:class:`RecommendationPolicy`)."""
        tenant_id = validate_tenant_id(tenant_id)
        start, end = self._period(since, until)
        await self._flush()
        by_model = await self._ledger.usage_report(tenant=tenant_id, group_by="model", since=start, until=end)
        repeated = await self._ledger.repeated_requests(
            tenant=tenant_id, since=start, until=end, min_calls=self.policy.min_repeats
        )
        ratings = await self._ledger.model_feedback(tenant=tenant_id, since=start, until=end)
        found = (
            self.policy.longer_ttl(repeated),
            self.policy.cheaper_fallback(by_model, self._fallbacks_of(tenant_id), self._price_of, ratings),
            self.policy.low_hit_rate(by_model),
        )
        return [r for r in found if r is not None]

    @staticmethod
    def _period(
        since: datetime | date | str | None, until: datetime | date | str | None
    ) -> tuple[datetime | None, datetime | None]:
        start, end = as_moment(since, field="since"), as_moment(until, field="until")
        if start is not None and end is not None and end <= start:
            raise ValidationError(
                f"until ({end.isoformat()}) must be after since ({start.isoformat()})", field="until"
            )
        return start, end
