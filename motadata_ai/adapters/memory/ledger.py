"""InMemoryUsageLedger and InMemoryAuditLog: the in-process ledger and audit log (lost on exit)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.usage.report import in_period, percentile, repeated_of, report_of
from motadata_ai.domain.values.errors import NotFound
from motadata_ai.domain.values.moments import aware
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import (
    ArmSummary,
    AuditEvent,
    AuditQuery,
    BudgetAlert,
    CacheSavings,
    FeedbackRecord,
    UsageRecord,
    UsageSummary,
)
from motadata_ai.domain.values.usage_report import GroupBy, ModelRating, RepeatedRequest, UsageReport
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort

__all__ = ["InMemoryAuditLog", "InMemoryUsageLedger"]


def _tenant_id(tenant: TenantContext | str) -> str:
    return TenantContext.of(tenant).tenant_id


def _in_range(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _summarise(
    tenant_id: str, records: list[UsageRecord], *, day: date | None, model: str | None
) -> UsageSummary:
    return UsageSummary(
        tenant_id=tenant_id,
        day=day,
        model=model,
        calls=len(records),
        cache_hits=sum(1 for r in records if r.cache_hit),
        input_tokens=sum(r.input_tokens for r in records),
        output_tokens=sum(r.output_tokens for r in records),
        cost_usd=sum(r.cost_usd for r in records),
        saved_usd=sum(r.saved_usd for r in records),
    )


class InMemoryUsageLedger(InProcessProbe, UsageLedgerPort):
    """Usage records and feedback in per-tenant lists."""

    def __init__(self) -> None:
        self._records: dict[str, list[UsageRecord]] = defaultdict(list)
        self._ids: set[str] = set()
        self._responses: dict[str, set[str]] = defaultdict(set)
        self._feedback: dict[str, list[FeedbackRecord]] = defaultdict(list)
        self._alerts: dict[str, BudgetAlert] = {}

    async def record_usage(self, record: UsageRecord) -> None:
        """Append the record (a repeated id is ignored)."""
        if record.id in self._ids:
            return
        self._ids.add(record.id)
        self._records[record.tenant_id].append(record)
        if record.response_id:
            self._responses[record.tenant_id].add(record.response_id)

    async def record_feedback(self, feedback: FeedbackRecord) -> None:
        """Store feedback on a response the tenant received."""
        if feedback.response_id not in self._responses.get(feedback.tenant_id, ()):
            raise NotFound(
                f"tenant {feedback.tenant_id} has no response {feedback.response_id!r}",
                tenant_id=feedback.tenant_id,
                response_id=feedback.response_id,
            )
        self._feedback[feedback.tenant_id].append(feedback)

    async def usage_records(
        self,
        *,
        tenant: TenantContext | str,
        limit: int = 100,
        user_id: str | None = None,
        request_id: str | None = None,
    ) -> list[UsageRecord]:
        """Newest first."""
        records = self._records.get(_tenant_id(tenant), [])
        if user_id is not None:
            records = [r for r in records if r.user_id == user_id]
        if request_id is not None:
            records = [r for r in records if r.request_id == request_id]
        return sorted(records, key=lambda r: r.created_at, reverse=True)[: max(0, limit)]

    async def feedback(self, *, tenant: TenantContext | str, response_id: str) -> list[FeedbackRecord]:
        """Oldest first."""
        return [f for f in self._feedback.get(_tenant_id(tenant), []) if f.response_id == response_id]

    def _selected(
        self, tenant: TenantContext | str, start: date | None, end: date | None
    ) -> list[UsageRecord]:
        return [
            r for r in self._records.get(_tenant_id(tenant), []) if _in_range(r.created_at.date(), start, end)
        ]

    async def usage_by_day(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> list[UsageSummary]:
        """Per UTC day, oldest first."""
        tenant_id = _tenant_id(tenant)
        groups: dict[date, list[UsageRecord]] = defaultdict(list)
        for record in self._selected(tenant, start, end):
            groups[record.created_at.date()].append(record)
        return [_summarise(tenant_id, groups[d], day=d, model=None) for d in sorted(groups)]

    async def usage_by_model(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> list[UsageSummary]:
        """Per model, by name."""
        tenant_id = _tenant_id(tenant)
        groups: dict[str, list[UsageRecord]] = defaultdict(list)
        for record in self._selected(tenant, start, end):
            groups[record.model].append(record)
        return [_summarise(tenant_id, groups[m], day=None, model=m) for m in sorted(groups)]

    async def cache_savings(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> CacheSavings:
        """Hits, calls and what the hits saved."""
        records = self._selected(tenant, start, end)
        hits = [r for r in records if r.cache_hit]
        return CacheSavings(
            tenant_id=_tenant_id(tenant),
            calls=len(records),
            hits=len(hits),
            saved_usd=sum(r.saved_usd for r in hits),
        )

    async def usage_report(
        self,
        *,
        tenant: TenantContext | str,
        group_by: GroupBy,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageReport:
        """Grouped in process (:func:`~motadata_ai.domain.usage.report.report_of`)."""
        tenant_id = _tenant_id(tenant)
        return report_of(
            tenant_id, self._records.get(tenant_id, []), group_by=group_by, since=since, until=until
        )

    async def repeated_requests(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime | None = None,
        until: datetime | None = None,
        min_calls: int = 2,
        limit: int = 20,
    ) -> list[RepeatedRequest]:
        """Grouped in process (:func:`~motadata_ai.domain.usage.report.repeated_of`)."""
        return repeated_of(
            self._records.get(_tenant_id(tenant), []),
            since=since,
            until=until,
            min_calls=min_calls,
            limit=limit,
        )

    async def model_feedback(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[ModelRating]:
        """Each model's distinct responses in the period and their feedback, by model name."""
        tenant_id = _tenant_id(tenant)
        start = aware(since) if since is not None else None
        end = aware(until) if until is not None else None
        responses: dict[str, set[str]] = {}
        for r in self._records.get(tenant_id, []):
            in_period = (start is None or r.created_at >= start) and (end is None or r.created_at < end)
            if r.response_id and in_period:
                responses.setdefault(r.model, set()).add(r.response_id)
        feedback = self._feedback.get(tenant_id, [])
        found = []
        for model in sorted(responses):
            ratings = [f.rating for f in feedback if f.response_id in responses[model]]
            if ratings:
                mean = sum(ratings) / len(ratings)
                found.append(ModelRating(model=model, feedback_count=len(ratings), mean_rating=mean))
        return found

    async def spend(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime,
        user_id: str | None = None,
        model: str | None = None,
    ) -> float:
        """Provider cost since ``since`` (a naive time is taken as UTC), of a user and/or model."""
        since = aware(since)
        return sum(
            r.cost_usd
            for r in self._records.get(_tenant_id(tenant), [])
            if r.created_at >= since
            and (user_id is None or r.user_id == user_id)
            and (model is None or r.model == model)
        )

    async def claim_budget_alert(self, alert: BudgetAlert) -> bool:
        """Keep the first alert of each identity (one event loop: the check and the insert are one step)."""
        if alert.id in self._alerts:
            return False
        self._alerts[alert.id] = alert
        return True

    async def budget_alerts(
        self, *, tenant: TenantContext | str, since: datetime | None = None, limit: int = 100
    ) -> list[BudgetAlert]:
        """Newest first."""
        tenant_id = _tenant_id(tenant)
        chosen = [
            a
            for a in self._alerts.values()
            if a.tenant_id == tenant_id and (since is None or a.created_at >= aware(since))
        ]
        return sorted(chosen, key=lambda a: (a.created_at, a.threshold), reverse=True)[: max(0, limit)]

    async def experiment_arms(
        self,
        *,
        tenant: TenantContext | str,
        experiment: str,
        since: datetime,
        until: datetime | None = None,
    ) -> list[ArmSummary]:
        """Per arm, champion first."""
        tenant_id = _tenant_id(tenant)
        records = [
            r
            for r in self._records.get(tenant_id, [])
            if r.experiment == experiment and r.arm is not None and in_period(r, since, until)
        ]
        summaries = []
        for arm in ("champion", "challenger"):
            mine = [r for r in records if r.arm == arm]
            if not mine:
                continue
            responses = {r.response_id for r in mine if r.response_id}
            ratings = [f.rating for f in self._feedback.get(tenant_id, []) if f.response_id in responses]
            latencies = [r.latency_ms for r in mine]
            summaries.append(
                ArmSummary(
                    arm=arm,
                    calls=len(mine),
                    cost_usd=sum(r.cost_usd for r in mine),
                    latency_p50_ms=percentile(latencies, 0.5),
                    latency_p95_ms=percentile(latencies, 0.95),
                    errors=sum(1 for r in mine if r.outcome != "ok"),
                    feedback_count=len(ratings),
                    mean_rating=sum(ratings) / len(ratings) if ratings else None,
                )
            )
        return summaries

    async def user_feedback(self, *, tenant: TenantContext | str, user_id: str) -> list[FeedbackRecord]:
        """Oldest first."""
        return [f for f in self._feedback.get(_tenant_id(tenant), []) if f.user_id == user_id]

    async def delete_user_feedback(self, *, tenant: TenantContext | str, user_id: str) -> int:
        """Drop the user's feedback."""
        kept = self._feedback.get(_tenant_id(tenant), [])
        remaining = [f for f in kept if f.user_id != user_id]
        if kept:
            self._feedback[_tenant_id(tenant)] = remaining
        return len(kept) - len(remaining)

    async def pseudonymise_user(self, *, tenant: TenantContext | str, user_id: str, pseudonym: str) -> int:
        """Rewrite the user id of the user's records."""
        records = self._records.get(_tenant_id(tenant), [])
        changed = 0
        for index, record in enumerate(records):
            if record.user_id == user_id:
                records[index] = record.model_copy(update={"user_id": pseudonym})
                changed += 1
        for key, alert in list(self._alerts.items()):
            if alert.tenant_id == _tenant_id(tenant) and alert.user_id == user_id:
                budget = alert.budget.replace(f"user:{user_id}", f"user:{pseudonym}")
                renamed = alert.model_copy(update={"user_id": pseudonym, "budget": budget})
                del self._alerts[key]
                self._alerts[renamed.id] = renamed
        return changed

    async def delete_usage_before(self, *, tenant: TenantContext | str, cutoff: datetime) -> int:
        """Drop records (and their feedback) older than ``cutoff``."""
        tenant_id, cutoff = _tenant_id(tenant), aware(cutoff)
        for key, alert in list(self._alerts.items()):
            if alert.tenant_id == tenant_id and alert.created_at < cutoff:
                del self._alerts[key]
        records = self._records.get(tenant_id, [])
        old = [r for r in records if r.created_at < cutoff]
        if not old:
            return 0
        self._records[tenant_id] = [r for r in records if r.created_at >= cutoff]
        gone = {r.response_id for r in old if r.response_id}
        still = {r.response_id for r in self._records[tenant_id] if r.response_id}
        self._responses[tenant_id] = still
        self._feedback[tenant_id] = [
            f for f in self._feedback.get(tenant_id, []) if f.response_id not in gone - still
        ]
        return len(old)


class InMemoryAuditLog(InProcessProbe, AuditLogPort):
    """The audit trail in per-tenant lists (append-only but for erasure and retention)."""

    def __init__(self) -> None:
        self._events: dict[str, list[AuditEvent]] = defaultdict(list)
        self._ids: set[str] = set()

    async def write(self, event: AuditEvent) -> None:
        """Append one event (a repeated id is ignored)."""
        if event.id in self._ids:
            return
        self._ids.add(event.id)
        self._events[event.tenant_id].append(event)

    async def query(self, *, tenant: TenantContext | str, query: AuditQuery) -> list[AuditEvent]:
        """Newest first."""
        events = [e for e in self._events.get(_tenant_id(tenant), []) if query.matches(e)]
        return sorted(events, key=lambda e: (e.timestamp, e.id), reverse=True)[: query.limit]

    async def pseudonymise_user(self, *, tenant: TenantContext | str, user_id: str, pseudonym: str) -> int:
        """Rewrite the user id of the user's events."""
        events = self._events.get(_tenant_id(tenant), [])
        changed = 0
        for index, event in enumerate(events):
            if event.user_id == user_id:
                events[index] = event.model_copy(update={"user_id": pseudonym})
                changed += 1
        return changed

    async def delete_before(self, *, tenant: TenantContext | str, cutoff: datetime) -> int:
        """Drop events older than ``cutoff``."""
        tenant_id, cutoff = _tenant_id(tenant), aware(cutoff)
        events = self._events.get(tenant_id, [])
        kept = [e for e in events if e.timestamp >= cutoff]
        if len(kept) != len(events):
            self._events[tenant_id] = kept
        return len(events) - len(kept)
