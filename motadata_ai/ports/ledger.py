"""UsageLedgerPort (usage, cost, feedback, budgets) and AuditLogPort (the audit trail).

Every query takes the tenant; one tenant never reads, counts or rates another tenant's records.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, date, datetime

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import (
    ArmSummary,
    AuditEvent,
    AuditKind,
    AuditQuery,
    AuditResult,
    BudgetAlert,
    CacheSavings,
    FeedbackRecord,
    UsageRecord,
    UsageSummary,
)
from motadata_ai.domain.values.usage_report import GroupBy, ModelRating, RepeatedRequest, UsageReport
from motadata_ai.ports.health import HealthProbe


class LedgerError(ServiceError):
    """The ledger or audit store failed."""


class LedgerUnavailable(LedgerError, StoreUnavailable):
    """The ledger store cannot be reached; ``address`` names it with credentials masked."""


class UsageLedgerPort(HealthProbe):
    """One usage record per gateway call, feedback on responses, and the per-tenant queries.

    Days are UTC calendar days; ``start`` and ``end`` are inclusive and optional.
    """

    @abstractmethod
    async def record_usage(self, record: UsageRecord) -> None:
        """Store one call's record (recording the same ``id`` twice keeps the first)."""

    async def record_usage_many(self, records: Sequence[UsageRecord]) -> None:
        """Store several records (adapters may write them in one round trip)."""
        for record in records:
            await self.record_usage(record)

    @abstractmethod
    async def record_feedback(self, feedback: FeedbackRecord) -> None:
        """Store a rating against a response of the same tenant.

        Raises :class:`~motadata_ai.domain.values.errors.NotFound` when that tenant has no
        usage record with ``feedback.response_id``.
        """

    @abstractmethod
    async def usage_records(
        self,
        *,
        tenant: TenantContext | str,
        limit: int = 100,
        user_id: str | None = None,
        request_id: str | None = None,
    ) -> list[UsageRecord]:
        """The tenant's latest records, newest first (optionally of one user, of one request)."""

    @abstractmethod
    async def feedback(self, *, tenant: TenantContext | str, response_id: str) -> list[FeedbackRecord]:
        """Feedback given on one of the tenant's responses, oldest first."""

    @abstractmethod
    async def usage_by_day(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> list[UsageSummary]:
        """Calls, tokens, cost and savings per UTC day, oldest day first."""

    @abstractmethod
    async def usage_by_model(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> list[UsageSummary]:
        """Calls, tokens, cost and savings per model, by model name."""

    @abstractmethod
    async def cache_savings(
        self, *, tenant: TenantContext | str, start: date | None = None, end: date | None = None
    ) -> CacheSavings:
        """How many calls the cache or de-duplication answered and what that saved."""

    @abstractmethod
    async def usage_report(
        self,
        *,
        tenant: TenantContext | str,
        group_by: GroupBy,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageReport:
        """The tenant's records created in ``[since, until)`` grouped by ``group_by`` (``model``;
        ``user``; ``operation``: the use-case, else the call kind; ``day``: the UTC day as
        ``YYYY-MM-DD``), rows by key with the keyless group last, and the total: calls, cache hits,
        errors (outcome not ``ok``), tokens, cost, savings and continuous p50/p95 latency."""

    @abstractmethod
    async def repeated_requests(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime | None = None,
        until: datetime | None = None,
        min_calls: int = 2,
        limit: int = 20,
    ) -> list[RepeatedRequest]:
        """Successful calls grouped by request fingerprint and model, the groups of at least
        ``min_calls`` calls, most avoidable cost first (ties: more calls first, then fingerprint)."""

    @abstractmethod
    async def model_feedback(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[ModelRating]:
        """Per model (by name; models without feedback left out): how many ratings were given on
        the responses of the tenant's records created in ``[since, until)``, and their mean."""

    @abstractmethod
    async def spend(
        self,
        *,
        tenant: TenantContext | str,
        since: datetime,
        user_id: str | None = None,
        model: str | None = None,
    ) -> float:
        """USD the tenant spent on provider calls since ``since`` (for budgets; naive means UTC),
        of one user and/or one model when given."""

    # -- budget alerts and experiments ---------------------------------------------------------

    @abstractmethod
    async def claim_budget_alert(self, alert: BudgetAlert) -> bool:
        """Store ``alert`` unless one with its identity (tenant, budget, period start, threshold)
        is stored already; ``True`` for the one caller that stored it, across every instance."""

    @abstractmethod
    async def budget_alerts(
        self, *, tenant: TenantContext | str, since: datetime | None = None, limit: int = 100
    ) -> list[BudgetAlert]:
        """The tenant's claimed alerts (created at or after ``since``), newest first."""

    @abstractmethod
    async def experiment_arms(
        self,
        *,
        tenant: TenantContext | str,
        experiment: str,
        since: datetime,
        until: datetime | None = None,
    ) -> list[ArmSummary]:
        """Per arm of ``experiment`` (champion first; arms without calls left out): calls, cost,
        p50/p95 latency, errors, and the feedback given on its responses, over the records
        created in ``[since, until)``."""

    # -- a user's data and retention -----------------------------------------------------------

    @abstractmethod
    async def user_feedback(self, *, tenant: TenantContext | str, user_id: str) -> list[FeedbackRecord]:
        """Every feedback record the user gave in the tenant, oldest first."""

    @abstractmethod
    async def delete_user_feedback(self, *, tenant: TenantContext | str, user_id: str) -> int:
        """Delete the user's feedback records (their comments are free text); return how many."""

    @abstractmethod
    async def pseudonymise_user(self, *, tenant: TenantContext | str, user_id: str, pseudonym: str) -> int:
        """Replace ``user_id`` by ``pseudonym`` on the tenant's usage records (kept for billing);
        return how many records changed."""

    @abstractmethod
    async def delete_usage_before(self, *, tenant: TenantContext | str, cutoff: datetime) -> int:
        """Delete the tenant's usage records created before ``cutoff`` (and their feedback, and
        the budget alerts raised before it); return how many usage records went (retention)."""

    async def ping(self) -> bool:
        """``True`` when the store answers."""
        await self.spend(tenant="ping", since=datetime(2000, 1, 1, tzinfo=UTC))
        return True

    async def aclose(self) -> None:
        """Release connections."""


class AuditLogPort(HealthProbe):
    """The append-only audit trail of every tenant (:class:`AuditEvent` in the fixed format).

    Events are never updated or deleted, with two exceptions that belong to the privacy use-case:
    :meth:`pseudonymise_user` (erasure) and :meth:`delete_before` (retention).
    """

    @abstractmethod
    async def write(self, event: AuditEvent) -> None:
        """Append one event (writing the same ``id`` twice keeps the first)."""

    async def write_many(self, events: Sequence[AuditEvent]) -> None:
        """Append several events (adapters may write them in one round trip)."""
        for event in events:
            await self.write(event)

    @abstractmethod
    async def query(self, *, tenant: TenantContext | str, query: AuditQuery) -> list[AuditEvent]:
        """The tenant's events selected by ``query``, newest first."""

    async def events(
        self,
        *,
        tenant: TenantContext | str,
        kind: AuditKind | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
        action: str | None = None,
        result: AuditResult | None = None,
    ) -> list[AuditEvent]:
        """The tenant's latest events, newest first, filtered by time (``since`` inclusive,
        ``until`` exclusive), user, action (``kind`` is the guardrail action
        ``guardrail.<kind>``) and result."""
        if kind is not None:
            action = f"guardrail.{kind}"
        return await self.query(
            tenant=tenant,
            query=AuditQuery(
                since=since, until=until, user_id=user_id, action=action, result=result, limit=limit
            ),
        )

    @abstractmethod
    async def pseudonymise_user(self, *, tenant: TenantContext | str, user_id: str, pseudonym: str) -> int:
        """Replace ``user_id`` by ``pseudonym`` on the tenant's events; return how many changed."""

    @abstractmethod
    async def delete_before(self, *, tenant: TenantContext | str, cutoff: datetime) -> int:
        """Delete the tenant's events older than ``cutoff`` (retention); return how many."""

    async def ping(self) -> bool:
        """``True`` when the store answers."""
        await self.query(tenant="ping", query=AuditQuery(limit=1))
        return True

    async def aclose(self) -> None:
        """Release connections."""
