"""A usage report computed in process from usage records (the in-memory ledger's way; the
PostgreSQL ledger computes the same figures in SQL).

Percentiles are continuous (linear interpolation between the two nearest ranks), as PostgreSQL's
``percentile_cont``, so both ledgers give the same figures for the same records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from motadata_ai.domain.values.moments import aware
from motadata_ai.domain.values.usage import UsageRecord
from motadata_ai.domain.values.usage_report import (
    GroupBy,
    RepeatedRequest,
    UsageReport,
    UsageReportRow,
    check_group_by,
)

__all__ = ["group_key", "in_period", "percentile", "repeated_of", "report_of"]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The continuous ``fraction`` percentile of ``values`` (0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def group_key(record: UsageRecord, group_by: GroupBy) -> str | None:
    """The key ``record`` falls under when grouping by ``group_by``."""
    if group_by == "model":
        return record.model
    if group_by == "user":
        return record.user_id
    if group_by == "operation":
        return record.use_case or record.operation
    return aware(record.created_at).astimezone(UTC).date().isoformat()


def in_period(record: UsageRecord, since: datetime | None, until: datetime | None) -> bool:
    """Whether ``record`` was created in ``[since, until)`` (naive times are UTC)."""
    stamp = aware(record.created_at)
    return (since is None or stamp >= aware(since)) and (until is None or stamp < aware(until))


def _row(key: str | None, records: Sequence[UsageRecord]) -> UsageReportRow:
    latencies = [r.latency_ms for r in records]
    return UsageReportRow(
        key=key,
        calls=len(records),
        cache_hits=sum(1 for r in records if r.cache_hit),
        errors=sum(1 for r in records if r.outcome != "ok"),
        input_tokens=sum(r.input_tokens for r in records),
        output_tokens=sum(r.output_tokens for r in records),
        cost_usd=sum(r.cost_usd for r in records),
        saved_usd=sum(r.saved_usd for r in records),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p95_ms=percentile(latencies, 0.95),
    )


def report_of(
    tenant_id: str,
    records: Iterable[UsageRecord],
    *,
    group_by: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> UsageReport:
    """The report of the tenant's ``records`` in ``[since, until)``, rows by key (no key last)."""
    by = check_group_by(group_by)
    selected = [r for r in records if r.tenant_id == tenant_id and in_period(r, since, until)]
    groups: dict[str | None, list[UsageRecord]] = defaultdict(list)
    for record in selected:
        groups[group_key(record, by)].append(record)
    keys = sorted(groups, key=lambda k: (k is None, k or ""))
    return UsageReport(
        tenant_id=tenant_id,
        group_by=by,
        since=since,
        until=until,
        rows=tuple(_row(k, groups[k]) for k in keys),
        total=_row(None, selected),
    )


def repeated_of(
    records: Iterable[UsageRecord],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    min_calls: int = 2,
    limit: int = 20,
) -> list[RepeatedRequest]:
    """Request fingerprints asked at least ``min_calls`` times, most paid repeats first."""
    groups: dict[tuple[str, str], list[UsageRecord]] = defaultdict(list)
    for record in records:
        if record.fingerprint and record.outcome == "ok" and in_period(record, since, until):
            groups[(record.fingerprint, record.model)].append(record)
    repeated = [
        RepeatedRequest(
            fingerprint=fingerprint,
            model=model,
            calls=len(group),
            paid=sum(1 for r in group if r.source == "provider"),
            cost_usd=sum(r.cost_usd for r in group),
        )
        for (fingerprint, model), group in groups.items()
        if len(group) >= min_calls
    ]
    repeated.sort(key=lambda r: (-r.avoidable_usd, -r.calls, r.fingerprint))
    return repeated[: max(0, limit)]
