"""The UsageLedgerPort and AuditLogPort contract: one suite every ledger adapter must pass.

Subclass :class:`LedgerContract` (in a ``Test*`` class) and implement :meth:`make_ledger` and
:meth:`make_audit` to return fresh, empty stores; adapters behind a server subclass
:class:`LedgerServerContract` and implement :meth:`make_unreachable_ledger` to return a ledger
pointed at a server that does not answer, with the password ``s3cret`` in its address::

    class TestMyLedger(LedgerContract):
        async def make_ledger(self) -> UsageLedgerPort:
            return MyLedger(dsn=...)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from motadata_ai.domain.values.errors import NotFound
from motadata_ai.domain.values.usage import AuditEvent, BudgetAlert, FeedbackRecord, UsageRecord
from motadata_ai.ports.ledger import AuditLogPort, LedgerUnavailable, UsageLedgerPort
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down
from motadata_ai.testing.contracts.usage_report import UsageReportContract

__all__ = ["SECRET", "LedgerContract", "LedgerServerContract"]

SECRET = "s3cret"
DAY1 = datetime(2030, 3, 1, 9, 30, tzinfo=UTC)
DAY2 = datetime(2030, 3, 2, 23, 59, tzinfo=UTC)


def usage(tenant: str, **fields: Any) -> UsageRecord:
    """A usage record with sensible defaults."""
    values: dict[str, Any] = {
        "tenant_id": tenant,
        "model": "openai/gpt-4o-mini",
        "provider": "openai",
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": 0.01,
        "latency_ms": 12.5,
        "created_at": DAY1,
    }
    values.update(fields)
    return UsageRecord(**values)


class LedgerContract(UsageReportContract):
    """Behaviour every ledger and audit log adapter shares; subclasses provide the stores."""

    async def make_ledger(self) -> UsageLedgerPort:
        """A fresh, empty ledger."""
        raise NotImplementedError

    async def make_audit(self) -> AuditLogPort:
        """A fresh, empty audit log."""
        raise NotImplementedError

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _stores(self) -> AsyncIterator[None]:
        self._made: list[UsageLedgerPort | AuditLogPort] = []
        # Tenants unique to each test keep tests independent on a shared server.
        suffix = uuid.uuid4().hex[:8]
        self.a = f"tenant-a-{suffix}"
        self.b = f"tenant-b-{suffix}"
        yield
        for store in self._made:
            await store.aclose()

    async def ledger(self) -> UsageLedgerPort:
        """A fresh ledger, closed after the test."""
        store = await self.make_ledger()
        self._made.append(store)
        return store

    async def audit(self) -> AuditLogPort:
        """A fresh audit log, closed after the test."""
        store = await self.make_audit()
        self._made.append(store)
        return store

    async def test_starts_empty(self) -> None:
        ledger = await self.ledger()
        assert await ledger.usage_records(tenant=self.a) == []
        assert await ledger.usage_by_day(tenant=self.a) == []
        assert await ledger.usage_by_model(tenant=self.a) == []
        savings = await ledger.cache_savings(tenant=self.a)
        assert savings.calls == 0 and savings.hit_rate == 0.0
        assert await ledger.spend(tenant=self.a, since=DAY1 - timedelta(days=1)) == 0.0

    async def test_records_round_trip_newest_first(self) -> None:
        ledger = await self.ledger()
        first = usage(self.a, user_id="u1", response_id="r1", attempts=2)
        second = usage(self.a, user_id="u2", created_at=DAY2, source="cache", cost_usd=0.0, saved_usd=0.01)
        await ledger.record_usage(first)
        await ledger.record_usage_many([second])
        assert await ledger.usage_records(tenant=self.a) == [second, first]
        assert await ledger.usage_records(tenant=self.a, user_id="u1") == [first]
        assert await ledger.usage_records(tenant=self.a, limit=1) == [second]

    async def test_recording_an_id_twice_keeps_one_record(self) -> None:
        ledger = await self.ledger()
        record = usage(self.a)
        await ledger.record_usage(record)
        await ledger.record_usage(record)
        assert len(await ledger.usage_records(tenant=self.a)) == 1

    async def test_usage_by_day_and_model_and_savings(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(
            [
                usage(self.a, cost_usd=0.25),
                usage(self.a, model="anthropic/claude", provider="anthropic", cost_usd=0.5, input_tokens=100),
                usage(
                    self.a,
                    created_at=DAY2,
                    source="cache",
                    cost_usd=0.0,
                    saved_usd=0.25,
                    input_tokens=0,
                    output_tokens=0,
                ),
                usage(
                    self.a,
                    created_at=DAY2,
                    source="dedup",
                    cost_usd=0.0,
                    saved_usd=0.5,
                    input_tokens=0,
                    output_tokens=0,
                ),
            ]
        )
        days = await ledger.usage_by_day(tenant=self.a)
        assert [(d.day, d.calls, d.cache_hits) for d in days] == [
            (date(2030, 3, 1), 2, 0),
            (date(2030, 3, 2), 2, 2),
        ]
        assert days[0].cost_usd == pytest.approx(0.75) and days[0].input_tokens == 110
        assert days[1].saved_usd == pytest.approx(0.75)
        models = await ledger.usage_by_model(tenant=self.a)
        assert [(m.model, m.calls) for m in models] == [("anthropic/claude", 1), ("openai/gpt-4o-mini", 3)]
        only_day2 = await ledger.usage_by_model(tenant=self.a, start=date(2030, 3, 2), end=date(2030, 3, 2))
        assert [(m.model, m.calls, m.cost_usd) for m in only_day2] == [("openai/gpt-4o-mini", 2, 0.0)]
        savings = await ledger.cache_savings(tenant=self.a)
        assert (savings.calls, savings.hits) == (4, 2) and savings.saved_usd == pytest.approx(0.75)
        assert savings.hit_rate == 0.5

    async def test_spend_counts_provider_cost_since_a_time(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(
            [usage(self.a, cost_usd=1.0), usage(self.a, cost_usd=2.0, created_at=DAY2)]
        )
        assert await ledger.spend(tenant=self.a, since=DAY1 - timedelta(hours=1)) == pytest.approx(3.0)
        assert await ledger.spend(tenant=self.a, since=DAY2 - timedelta(hours=1)) == pytest.approx(2.0)
        assert await ledger.spend(tenant=self.a, since=DAY2 + timedelta(hours=1)) == 0.0

    async def test_spend_of_one_user_and_one_model(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(
            [
                usage(self.a, user_id="bob", cost_usd=1.0),
                usage(self.a, user_id="bob", model="anthropic/claude", cost_usd=2.0),
                usage(self.a, user_id="alice", cost_usd=4.0),
            ]
        )
        since = DAY1 - timedelta(hours=1)
        assert await ledger.spend(tenant=self.a, since=since, user_id="bob") == pytest.approx(3.0)
        by_model = await ledger.spend(tenant=self.a, since=since, model="openai/gpt-4o-mini")
        assert by_model == pytest.approx(5.0)
        assert await ledger.spend(
            tenant=self.a, since=since, user_id="bob", model="anthropic/claude"
        ) == pytest.approx(2.0)
        assert await ledger.spend(tenant=self.b, since=since, user_id="bob") == 0.0

    def alert(self, tenant: str, **fields: Any) -> BudgetAlert:
        """A budget alert of ``tenant`` with sensible defaults."""
        values: dict[str, Any] = {
            "tenant_id": tenant,
            "budget": "tenant",
            "period": "daily",
            "period_start": datetime(2030, 3, 1, tzinfo=UTC),
            "threshold": 0.5,
            "limit_usd": 10.0,
            "spent_usd": 5.5,
            "created_at": DAY1,
        }
        values.update(fields)
        return BudgetAlert(**values)

    async def test_a_budget_alert_is_claimed_once_per_budget_period_and_threshold(self) -> None:
        ledger = await self.ledger()
        first = self.alert(self.a)
        claims = await asyncio.gather(*(ledger.claim_budget_alert(first) for _ in range(20)))
        assert claims.count(True) == 1
        assert await ledger.claim_budget_alert(first.model_copy(update={"spent_usd": 6.0})) is False
        later = self.alert(self.a, threshold=0.8, spent_usd=8.5, created_at=DAY1 + timedelta(hours=1))
        next_day = self.alert(
            self.a, period_start=datetime(2030, 3, 2, tzinfo=UTC), created_at=DAY2, spent_usd=5.0
        )
        bob = self.alert(self.a, budget="user:bob", user_id="bob", created_at=DAY1 + timedelta(minutes=1))
        for alert in (later, next_day, bob, self.alert(self.b)):
            assert await ledger.claim_budget_alert(alert) is True
        assert await ledger.budget_alerts(tenant=self.a) == [next_day, later, bob, first]
        assert await ledger.budget_alerts(tenant=self.a, since=DAY2) == [next_day]
        assert await ledger.budget_alerts(tenant=self.a, limit=1) == [next_day]
        assert [a.tenant_id for a in await ledger.budget_alerts(tenant=self.b)] == [self.b]

    async def test_experiment_arms_from_hand_computed_figures(self) -> None:
        ledger = await self.ledger()
        champion = [
            usage(
                self.a, experiment="x", arm="champion", latency_ms=ms, cost_usd=0.5, response_id=f"c{ms:.0f}"
            )
            for ms in (10.0, 20.0, 30.0, 40.0)
        ]
        challenger = [
            usage(self.a, experiment="x", arm="challenger", latency_ms=100.0, cost_usd=1.0, response_id="h1"),
            usage(
                self.a,
                experiment="x",
                arm="challenger",
                latency_ms=200.0,
                cost_usd=0.0,
                outcome="error",
                error="ProviderUnavailable: 503",
            ),
        ]
        unrelated = [
            usage(self.a, experiment="other", arm="champion"),
            usage(self.a, latency_ms=1.0),
            usage(self.a, experiment="x", arm="champion", created_at=DAY1 - timedelta(days=2)),
            usage(self.b, experiment="x", arm="champion", response_id="c10"),
        ]
        await ledger.record_usage_many([*champion, *challenger, *unrelated])
        for response, rating in (("c10", 5), ("c20", 3), ("h1", 2)):
            rated = FeedbackRecord(tenant_id=self.a, response_id=response, rating=rating)
            await ledger.record_feedback(rated)
        arms = await ledger.experiment_arms(tenant=self.a, experiment="x", since=DAY1 - timedelta(hours=1))
        assert [a.arm for a in arms] == ["champion", "challenger"]
        mine, theirs = arms
        assert (mine.calls, mine.errors, mine.feedback_count) == (4, 0, 2)
        assert mine.cost_usd == pytest.approx(2.0) and mine.mean_rating == pytest.approx(4.0)
        assert mine.latency_p50_ms == pytest.approx(25.0) and mine.latency_p95_ms == pytest.approx(38.5)
        assert (theirs.calls, theirs.errors, theirs.error_rate, theirs.feedback_count) == (2, 1, 0.5, 1)
        assert theirs.latency_p50_ms == pytest.approx(150.0) and theirs.mean_rating == pytest.approx(2.0)
        assert await ledger.experiment_arms(
            tenant=self.a, experiment="x", since=DAY1 - timedelta(hours=1), until=DAY1
        ) == []
        (record,) = [r for r in await ledger.usage_records(tenant=self.a) if r.response_id == "h1"]
        assert (record.experiment, record.arm) == ("x", "challenger")

    async def test_feedback_needs_a_response_of_the_same_tenant(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage(usage(self.a, response_id="resp-1"))
        good = FeedbackRecord(
            tenant_id=self.a, response_id="resp-1", rating=5, comment="spot on", user_id="u"
        )
        await ledger.record_feedback(good)
        assert await ledger.feedback(tenant=self.a, response_id="resp-1") == [good]
        with pytest.raises(NotFound):
            await ledger.record_feedback(FeedbackRecord(tenant_id=self.a, response_id="missing", rating=1))
        with pytest.raises(NotFound):
            await ledger.record_feedback(FeedbackRecord(tenant_id=self.b, response_id="resp-1", rating=1))
        assert await ledger.feedback(tenant=self.b, response_id="resp-1") == []

    async def test_tenant_isolation_across_every_query(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage(usage(self.a, cost_usd=5.0, response_id="ra"))
        since = DAY1 - timedelta(days=1)
        assert await ledger.usage_records(tenant=self.b) == []
        assert await ledger.usage_by_day(tenant=self.b) == []
        assert await ledger.usage_by_model(tenant=self.b) == []
        assert (await ledger.cache_savings(tenant=self.b)).calls == 0
        assert await ledger.spend(tenant=self.b, since=since) == 0.0
        assert await ledger.spend(tenant=self.a, since=since) == pytest.approx(5.0)

    async def test_concurrent_writes_are_all_kept(self) -> None:
        ledger = await self.ledger()
        await asyncio.gather(*(ledger.record_usage(usage(self.a)) for _ in range(20)))
        assert len(await ledger.usage_records(tenant=self.a, limit=100)) == 20

    async def test_audit_events_newest_first_by_kind_and_isolated(self) -> None:
        log = await self.audit()
        old = AuditEvent(tenant_id=self.a, kind="pii_redacted", reasons=("email",), created_at=DAY1)
        new = AuditEvent(
            tenant_id=self.a,
            kind="guardrail_violation",
            stage="output",
            level="strict",
            model="m",
            reasons=("content_filter: weapons",),
            details={"response_id": "r1"},
            created_at=DAY2,
            user_id="u",
        )
        await log.write(old)
        await log.write(new)
        assert await log.events(tenant=self.a) == [new, old]
        assert await log.events(tenant=self.a, kind="pii_redacted") == [old]
        assert await log.events(tenant=self.a, limit=1) == [new]
        assert await log.events(tenant=self.b) == []

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_ledger())
        await assert_probe_answers(await self.make_audit())
    async def test_audit_events_keep_the_fixed_format(self) -> None:
        log = await self.audit()
        event = AuditEvent(
            tenant_id=self.a,
            user_id="bob",
            action="rag.query",
            resource="kb",
            result="success",
            metadata={"passages": 3, "mode": "hybrid"},
            trace_id="0af7651916cd43dd8448eb211c80319c",
            timestamp=DAY1,
        )
        await log.write(event)
        await log.write(event)  # the same id twice is one event
        (stored,) = await log.events(tenant=self.a)
        assert stored == event
        assert stored.model_dump().keys() >= {
            "timestamp", "tenant_id", "user_id", "action", "resource", "result", "metadata", "trace_id"
        }

    async def test_audit_query_by_time_user_action_and_result(self) -> None:
        log = await self.audit()
        first = AuditEvent(tenant_id=self.a, user_id="bob", action="rag.query", timestamp=DAY1)
        second = AuditEvent(
            tenant_id=self.a, user_id="alice", action="ml.predict", result="failure", timestamp=DAY2
        )
        third = AuditEvent(
            tenant_id=self.a,
            user_id="bob",
            action="rag.ingest",
            result="denied",
            timestamp=DAY2 + timedelta(hours=1),
        )
        await log.write_many([first, second, third])
        assert await log.events(tenant=self.a, user_id="bob") == [third, first]
        assert await log.events(tenant=self.a, action="ml.predict") == [second]
        assert await log.events(tenant=self.a, result="denied") == [third]
        assert await log.events(tenant=self.a, since=DAY2) == [third, second]
        assert await log.events(tenant=self.a, until=DAY2) == [first]
        assert await log.events(tenant=self.a, since=DAY2, until=DAY2 + timedelta(minutes=1)) == [second]
        assert await log.events(tenant=self.b, user_id="bob") == []

    async def test_audit_pseudonymise_and_retention_touch_only_what_they_name(self) -> None:
        log = await self.audit()
        bob = AuditEvent(tenant_id=self.a, user_id="bob", action="rag.query", timestamp=DAY2)
        old = AuditEvent(tenant_id=self.a, user_id="alice", action="rag.query", timestamp=DAY1)
        other = AuditEvent(tenant_id=self.b, user_id="bob", action="rag.query", timestamp=DAY1)
        await log.write_many([bob, old, other])
        assert await log.pseudonymise_user(tenant=self.a, user_id="bob", pseudonym="anon-1") == 1
        assert await log.pseudonymise_user(tenant=self.a, user_id="bob", pseudonym="anon-1") == 0
        (renamed,) = await log.events(tenant=self.a, user_id="anon-1")
        assert renamed == bob.model_copy(update={"user_id": "anon-1"})
        assert await log.events(tenant=self.a, user_id="bob") == []
        assert await log.events(tenant=self.b) == [other]
        assert await log.delete_before(tenant=self.a, cutoff=DAY2) == 1
        assert [e.id for e in await log.events(tenant=self.a)] == [bob.id]
        assert await log.events(tenant=self.b) == [other]

    async def test_user_feedback_erasure_and_usage_pseudonyms(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(
            [
                usage(self.a, user_id="bob", response_id="r1"),
                usage(self.a, user_id="alice", response_id="r2"),
                usage(self.b, user_id="bob", response_id="r1"),
            ]
        )
        mine = FeedbackRecord(tenant_id=self.a, response_id="r1", user_id="bob", rating=2, comment="bob@x.io")
        theirs = FeedbackRecord(tenant_id=self.a, response_id="r2", user_id="alice", rating=4)
        await ledger.record_feedback(mine)
        await ledger.record_feedback(theirs)
        assert await ledger.user_feedback(tenant=self.a, user_id="bob") == [mine]
        assert await ledger.delete_user_feedback(tenant=self.a, user_id="bob") == 1
        assert await ledger.user_feedback(tenant=self.a, user_id="bob") == []
        assert await ledger.user_feedback(tenant=self.a, user_id="alice") == [theirs]
        await ledger.claim_budget_alert(self.alert(self.a, budget="user:bob", user_id="bob"))
        assert await ledger.pseudonymise_user(tenant=self.a, user_id="bob", pseudonym="anon-1") == 1
        (alert,) = await ledger.budget_alerts(tenant=self.a)
        assert (alert.budget, alert.user_id) == ("user:anon-1", "anon-1")
        assert await ledger.usage_records(tenant=self.a, user_id="bob") == []
        (kept,) = await ledger.usage_records(tenant=self.a, user_id="anon-1")
        assert kept.cost_usd == pytest.approx(0.01)  # kept for billing
        assert len(await ledger.usage_records(tenant=self.b, user_id="bob")) == 1

    async def test_usage_retention_deletes_old_records_only(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(
            [usage(self.a, response_id="old"), usage(self.a, created_at=DAY2), usage(self.b)]
        )
        await ledger.record_feedback(FeedbackRecord(tenant_id=self.a, response_id="old", rating=3))
        old_alert, new_alert = self.alert(self.a), self.alert(self.a, threshold=0.8, created_at=DAY2)
        for alert in (old_alert, new_alert, self.alert(self.b)):
            await ledger.claim_budget_alert(alert)
        assert await ledger.delete_usage_before(tenant=self.a, cutoff=DAY2) == 1
        assert await ledger.budget_alerts(tenant=self.a) == [new_alert]
        assert len(await ledger.budget_alerts(tenant=self.b)) == 1
        assert [r.created_at for r in await ledger.usage_records(tenant=self.a)] == [DAY2]
        assert await ledger.feedback(tenant=self.a, response_id="old") == []
        assert len(await ledger.usage_records(tenant=self.b)) == 1


class LedgerServerContract(LedgerContract):
    """The Ledger contract plus error translation, for adapters behind a server."""

    async def make_unreachable_ledger(self) -> UsageLedgerPort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_ledger_unavailable_with_masked_address(self) -> None:
        ledger = await self.make_unreachable_ledger()
        self._made.append(ledger)
        since = DAY1
        for call in (
            ledger.record_usage(usage(self.a)),
            ledger.usage_records(tenant=self.a),
            ledger.usage_by_day(tenant=self.a),
            ledger.spend(tenant=self.a, since=since),
            ledger.record_feedback(FeedbackRecord(tenant_id=self.a, response_id="r", rating=3)),
        ):
            with pytest.raises(LedgerUnavailable) as caught:
                await call
            assert "***" in caught.value.address and SECRET not in str(caught.value)

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        await assert_probe_reports_down(await self.make_unreachable_ledger(), secret=SECRET)
