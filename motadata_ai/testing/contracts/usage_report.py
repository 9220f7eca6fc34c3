"""The ledger contract for attribution and reports: request, use-case, purpose and fingerprint
round trips, and a fixed ledger whose report figures were computed by hand.

:class:`~motadata_ai.testing.contracts.ledger.LedgerContract` includes these tests; they use its
``ledger()`` and its per-test tenants ``a`` and ``b``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from motadata_ai.domain.usage.service import UsageService
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.usage import FeedbackRecord, UsageRecord
from motadata_ai.domain.values.usage_report import ModelRating, UsageReportRow
from motadata_ai.ports.ledger import UsageLedgerPort

__all__ = ["UsageReportContract"]

D1 = datetime(2030, 3, 1, 9, 30, tzinfo=UTC)
D2 = datetime(2030, 3, 2, 23, 59, tzinfo=UTC)
SINCE = datetime(2030, 3, 1, tzinfo=UTC)
UNTIL = datetime(2030, 3, 3, tzinfo=UTC)
MINI = "openai/gpt-4o-mini"
HAIKU = "anthropic/claude-3-haiku"


def _record(tenant: str, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "tenant_id": tenant,
        "model": MINI,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "created_at": D1,
    }
    values.update(fields)
    return UsageRecord(**values)


def fixed_ledger(a: str, b: str) -> list[UsageRecord]:
    """Five records of tenant ``a`` in the period, two of ``a`` outside it, one of ``b``."""
    return [
        _record(a, user_id="alice", use_case="rag.query", purpose="answer", input_tokens=100,
                output_tokens=20, cost_usd=0.010, latency_ms=100.0),
        _record(a, user_id="alice", use_case="rag.query", purpose="query_embedding", operation="embeddings",
                input_tokens=50, cost_usd=0.002, latency_ms=20.0),
        _record(a, user_id="bob", use_case="agent.execute_task", source="cache", saved_usd=0.010,
                latency_ms=2.0, created_at=D2),
        _record(a, user_id="bob", use_case="agent.execute_task", model=HAIKU, input_tokens=200,
                output_tokens=40, cost_usd=0.050, latency_ms=300.0, created_at=D2),
        _record(a, use_case="gateway.generate", model=HAIKU, outcome="error", latency_ms=50.0, created_at=D2),
        _record(a, user_id="alice", cost_usd=9.0, latency_ms=1.0, created_at=UNTIL),  # until is exclusive
        _record(a, user_id="alice", cost_usd=9.0, latency_ms=1.0, created_at=SINCE - timedelta(hours=1)),
        _record(b, user_id="alice", cost_usd=7.0, latency_ms=1.0),
    ]  # fmt: skip


def _figures(row: UsageReportRow) -> tuple[Any, ...]:
    return (
        row.key,
        row.calls,
        row.cache_hits,
        row.errors,
        row.input_tokens,
        row.output_tokens,
        pytest.approx(row.cost_usd),
        pytest.approx(row.saved_usd),
        pytest.approx(row.latency_p50_ms),
        pytest.approx(row.latency_p95_ms),
    )


# key, calls, hits, errors, input, output, cost, saved, p50, p95 (continuous percentiles)
TOTAL = (None, 5, 1, 1, 350, 60, 0.062, 0.010, 50.0, 260.0)
BY: dict[str, list[tuple[Any, ...]]] = {
    "model": [
        (HAIKU, 2, 0, 1, 200, 40, 0.050, 0.0, 175.0, 287.5),
        (MINI, 3, 1, 0, 150, 20, 0.012, 0.010, 20.0, 92.0),
    ],
    "user": [
        ("alice", 2, 0, 0, 150, 20, 0.012, 0.0, 60.0, 96.0),
        ("bob", 2, 1, 0, 200, 40, 0.050, 0.010, 151.0, 285.1),
        (None, 1, 0, 1, 0, 0, 0.0, 0.0, 50.0, 50.0),
    ],
    "operation": [
        ("agent.execute_task", 2, 1, 0, 200, 40, 0.050, 0.010, 151.0, 285.1),
        ("gateway.generate", 1, 0, 1, 0, 0, 0.0, 0.0, 50.0, 50.0),
        ("rag.query", 2, 0, 0, 150, 20, 0.012, 0.0, 60.0, 96.0),
    ],
    "day": [
        ("2030-03-01", 2, 0, 0, 150, 20, 0.012, 0.0, 60.0, 96.0),
        ("2030-03-02", 3, 1, 1, 200, 40, 0.050, 0.010, 50.0, 275.0),
    ],
}


PRICES = {HAIKU: 0.01, MINI: 0.001}


def rated_ledger(a: str, b: str) -> tuple[list[UsageRecord], list[tuple[str, str, int]]]:
    """Haiku takes 90% of ``a``'s spend in the period and is rated 5 and 4; mini is rated 4 and 5
    in the period (a 1 outside it, and ``b``'s 1, are not counted): (records, (tenant, response,
    rating) of each feedback)."""
    records = [
        _record(a, model=HAIKU, cost_usd=0.45, response_id=f"{a}-r1"),
        _record(a, model=HAIKU, cost_usd=0.45, response_id=f"{a}-r2", created_at=D2),
        _record(a, model=MINI, cost_usd=0.05, response_id=f"{a}-r3"),
        _record(a, model=MINI, cost_usd=0.05, response_id=f"{a}-r4", created_at=D2),
        _record(a, model=MINI, cost_usd=0.05, response_id=f"{a}-r5", created_at=UNTIL),
        _record(b, model=MINI, cost_usd=0.05, response_id=f"{b}-r6"),
    ]
    ratings = [(a, f"{a}-r1", 5), (a, f"{a}-r2", 4), (a, f"{a}-r3", 4), (a, f"{a}-r4", 5),
               (a, f"{a}-r5", 1), (b, f"{b}-r6", 1)]  # fmt: skip
    return records, ratings


async def _rate(ledger: UsageLedgerPort, tenant: str, response_id: str, rating: int) -> None:
    await ledger.record_feedback(FeedbackRecord(tenant_id=tenant, response_id=response_id, rating=rating))


class UsageReportContract:
    """Attribution fields and reports, on the ledger the including contract makes."""

    a: str
    b: str

    async def ledger(self) -> UsageLedgerPort:
        """A fresh ledger (the including contract provides it)."""
        raise NotImplementedError

    async def test_attribution_fields_round_trip_and_select_a_request(self) -> None:
        ledger = await self.ledger()
        first = _record(self.a, user_id="bob", request_id="req-1", use_case="rag.query",
                        purpose="query_embedding", fingerprint="f" * 32, operation="embeddings")  # fmt: skip
        second = _record(self.a, user_id="bob", request_id="req-1", use_case="rag.query", purpose="answer",
                         created_at=D2)  # fmt: skip
        other = _record(self.a, user_id="bob", request_id="req-2", use_case="gateway.generate")
        await ledger.record_usage_many([first, second, other])
        assert await ledger.usage_records(tenant=self.a, request_id="req-1") == [second, first]
        assert await ledger.usage_records(tenant=self.a, request_id="req-1", user_id="someone") == []
        assert await ledger.usage_records(tenant=self.b, request_id="req-1") == []

    @pytest.mark.parametrize("group_by", sorted(BY))
    async def test_report_groups_and_totals_match_hand_computed_figures(self, group_by: str) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(fixed_ledger(self.a, self.b))
        report = await ledger.usage_report(tenant=self.a, group_by=group_by, since=SINCE, until=UNTIL)  # type: ignore[arg-type]
        assert report.tenant_id == self.a and report.group_by == group_by
        assert [_figures(row) for row in report.rows] == BY[group_by]
        assert _figures(report.total) == TOTAL

    async def test_report_rates_and_an_open_period(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(fixed_ledger(self.a, self.b))
        report = await ledger.usage_report(tenant=self.a, group_by="model", since=SINCE, until=UNTIL)
        assert report.total.cache_hit_rate == pytest.approx(0.2)
        assert report.total.error_rate == pytest.approx(0.2)
        everything = await ledger.usage_report(tenant=self.a, group_by="model")
        assert everything.total.calls == 7
        assert everything.total.cost_usd == pytest.approx(18.062)
        empty = await ledger.usage_report(
            tenant=self.a, group_by="day", since=datetime(2031, 1, 1, tzinfo=UTC)
        )
        assert empty.rows == () and empty.total.calls == 0 and empty.total.latency_p95_ms == 0.0

    async def test_a_record_without_use_case_reports_under_its_call_kind(self) -> None:
        ledger = await self.ledger()
        await ledger.record_usage_many(
            [_record(self.a, operation="embeddings"), _record(self.a, use_case="rag.query")]
        )
        report = await ledger.usage_report(tenant=self.a, group_by="operation")
        assert [(row.key, row.calls) for row in report.rows] == [("embeddings", 1), ("rag.query", 1)]

    async def test_an_unknown_group_by_is_a_validation_error(self) -> None:
        ledger = await self.ledger()
        with pytest.raises(ValidationError) as caught:
            await ledger.usage_report(tenant=self.a, group_by="region")  # type: ignore[arg-type]
        assert caught.value.fields["field"] == "group_by"

    async def test_repeated_requests_by_fingerprint(self) -> None:
        ledger = await self.ledger()
        f1, f2, f3 = "1" * 32, "2" * 32, "3" * 32
        await ledger.record_usage_many(
            [
                _record(self.a, fingerprint=f1, cost_usd=0.01),
                _record(self.a, fingerprint=f1, cost_usd=0.01, created_at=D2),
                _record(self.a, fingerprint=f1, source="cache", saved_usd=0.01, created_at=D2),
                _record(self.a, fingerprint=f1, outcome="error"),
                _record(self.a, fingerprint=f2, cost_usd=0.02),
                _record(self.a, fingerprint=f2, source="cache", saved_usd=0.02),
                _record(self.a, fingerprint=f3, cost_usd=0.5),
                _record(self.b, fingerprint=f3, cost_usd=0.5),
            ]
        )
        repeated = await ledger.repeated_requests(tenant=self.a, min_calls=2)
        assert [(r.fingerprint, r.model, r.calls, r.paid) for r in repeated] == [
            (f1, MINI, 3, 2),
            (f2, MINI, 2, 1),
        ]
        assert repeated[0].cost_usd == pytest.approx(0.02)
        assert repeated[0].avoidable_usd == pytest.approx(0.01)
        later = await ledger.repeated_requests(tenant=self.a, since=D2, min_calls=2)
        assert [(r.fingerprint, r.calls, r.paid) for r in later] == [(f1, 2, 1)]
        assert await ledger.repeated_requests(tenant=self.a, min_calls=4) == []

    async def test_feedback_per_model_counts_the_period_and_the_tenant_only(self) -> None:
        ledger = await self.ledger()
        records, ratings = rated_ledger(self.a, self.b)
        await ledger.record_usage_many(records)
        for tenant, response_id, rating in ratings:
            await _rate(ledger, tenant, response_id, rating)
        assert await ledger.model_feedback(tenant=self.a, since=SINCE, until=UNTIL) == [
            ModelRating(model=HAIKU, feedback_count=2, mean_rating=4.5),
            ModelRating(model=MINI, feedback_count=2, mean_rating=4.5),
        ]
        everything = await ledger.model_feedback(tenant=self.a)
        assert [(r.model, r.feedback_count, r.mean_rating) for r in everything] == [
            (HAIKU, 2, 4.5),
            (MINI, 3, pytest.approx(10 / 3)),
        ]
        assert await ledger.model_feedback(tenant=self.a, since=datetime(2031, 1, 1, tzinfo=UTC)) == []

    async def test_the_cheaper_fallback_is_recommended_with_both_ratings_unless_rated_worse(self) -> None:
        ledger = await self.ledger()
        records, ratings = rated_ledger(self.a, self.b)
        await ledger.record_usage_many(records)
        for tenant, response_id, rating in ratings:
            await _rate(ledger, tenant, response_id, rating)
        usage = UsageService(ledger, fallbacks_of=lambda tenant_id: [MINI], price_of=PRICES.__getitem__)
        found = [
            r
            for r in await usage.recommendations(tenant_id=self.a, since=SINCE, until=UNTIL)
            if r.kind == "cheaper_fallback"
        ]
        assert len(found) == 1
        details = found[0].details
        assert (details["model"], details["fallback"]) == (HAIKU, MINI)
        assert (details["model_mean_rating"], details["model_feedback_count"]) == (4.5, 2)
        assert (details["fallback_mean_rating"], details["fallback_feedback_count"]) == (4.5, 2)
        assert "rated 4.50 over 2" in found[0].message
        # two more 1s bring mini to 2.75, worse than haiku's 4.5 by more than the tolerance
        await _rate(ledger, self.a, f"{self.a}-r3", 1)
        await _rate(ledger, self.a, f"{self.a}-r4", 1)
        kinds = [r.kind for r in await usage.recommendations(tenant_id=self.a, since=SINCE, until=UNTIL)]
        assert "cheaper_fallback" not in kinds

    async def test_a_fallback_without_feedback_is_recommended_saying_so(self) -> None:
        ledger = await self.ledger()
        records, _ = rated_ledger(self.a, self.b)
        await ledger.record_usage_many(records)
        await _rate(ledger, self.a, f"{self.a}-r1", 5)
        usage = UsageService(ledger, fallbacks_of=lambda tenant_id: [MINI], price_of=PRICES.__getitem__)
        found = [
            r
            for r in await usage.recommendations(tenant_id=self.a, since=SINCE, until=UNTIL)
            if r.kind == "cheaper_fallback"
        ]
        assert len(found) == 1
        assert f"no feedback on {MINI}" in found[0].message
        details = found[0].details
        assert (details["fallback_mean_rating"], details["fallback_feedback_count"]) == (None, 0)
        assert (details["model_mean_rating"], details["model_feedback_count"]) == (5.0, 1)
