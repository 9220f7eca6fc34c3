"""UsageLedgerPort (usage, cost, feedback, budgets) and AuditLogPort (guardrail events).

Every query takes the tenant; one tenant never reads, counts or rates another tenant's records.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, date, datetime

from motadata_ai.domain.values.errors import ServiceError, StoreUnavailable
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import (
    AuditEvent,
    AuditKind,
    CacheSavings,
    FeedbackRecord,
    UsageRecord,
    UsageSummary,
)
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
        self, *, tenant: TenantContext | str, limit: int = 100, user_id: str | None = None
    ) -> list[UsageRecord]:
        """The tenant's latest records, newest first (optionally of one user)."""

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
    async def spend(self, *, tenant: TenantContext | str, since: datetime) -> float:
        """USD the tenant spent on provider calls since ``since`` (for budgets; naive means UTC)."""

    async def ping(self) -> bool:
        """``True`` when the store answers."""
        await self.spend(tenant="ping", since=datetime(2000, 1, 1, tzinfo=UTC))
        return True

    async def aclose(self) -> None:
        """Release connections."""


class AuditLogPort(HealthProbe):
    """Append-only guardrail events (violations, redactions, suspected injections) per tenant."""

    @abstractmethod
    async def write(self, event: AuditEvent) -> None:
        """Append one event."""

    @abstractmethod
    async def events(
        self, *, tenant: TenantContext | str, kind: AuditKind | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        """The tenant's latest events, newest first (optionally of one kind)."""

    async def aclose(self) -> None:
        """Release connections."""
