"""UsageService (``ai.usage``) over the in-memory ledger: periods, bad input, recommendations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger
from motadata_ai.domain.usage import UsageService, percentile
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.usage import UsageRecord

DAY = datetime(2030, 3, 1, 12, tzinfo=UTC)


def record(**fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "tenant_id": "acme",
        "model": "openai/gpt-4o",
        "cost_usd": 0.01,
        "created_at": DAY,
    }
    values.update(fields)
    return UsageRecord(**values)  # type: ignore[arg-type]


async def service(*records: UsageRecord, **options: object) -> tuple[UsageService, list[str]]:
    ledger = InMemoryUsageLedger()
    await ledger.record_usage_many(records)
    flushed: list[str] = []

    async def flush() -> None:
        flushed.append("flushed")

    return UsageService(ledger, flush=flush, **options), flushed  # type: ignore[arg-type]


async def test_a_report_flushes_first_and_takes_dates_and_iso_strings() -> None:
    usage, flushed = await service(record(), record(created_at=datetime(2030, 3, 2, tzinfo=UTC)))
    report = await usage.report(tenant_id="acme", since=date(2030, 3, 1), until="2030-03-02", group_by="day")
    assert flushed == ["flushed"]
    assert [(row.key, row.calls) for row in report.rows] == [("2030-03-01", 1)]
    assert report.since == datetime(2030, 3, 1, tzinfo=UTC) and report.until == datetime(
        2030, 3, 2, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"group_by": "tenant"}, "group_by"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2030-03-02", "until": "2030-03-01"}, "until"),
    ],
)
async def test_bad_report_input_is_a_typed_error(options: dict[str, str], field: str) -> None:
    usage, flushed = await service()
    with pytest.raises(ValidationError) as caught:
        await usage.report(tenant_id="acme", **options)
    assert caught.value.fields["field"] == field and flushed == []


async def test_records_of_one_request() -> None:
    usage, _ = await service(record(request_id="r1"), record(request_id="r2"))
    assert [r.request_id for r in await usage.records(tenant_id="acme", request_id="r1")] == ["r1"]
    with pytest.raises(ValidationError):
        await usage.records(tenant_id="acme", limit=-1)


async def test_recommendations_from_the_ledger_each_with_its_figure() -> None:
    repeated = [record(fingerprint="f" * 32) for _ in range(4)]
    cheap_calls = [record(model="openai/gpt-4o-mini", cost_usd=0.0005) for _ in range(20)]
    usage, _ = await service(
        *repeated,
        *cheap_calls,
        fallbacks_of=lambda tenant_id: ["openai/gpt-4o-mini"],
        price_of={"openai/gpt-4o": 0.0125, "openai/gpt-4o-mini": 0.00075}.__getitem__,
    )
    found = {r.kind: r for r in await usage.recommendations(tenant_id="acme")}
    assert set(found) == {"longer_cache_ttl", "cheaper_fallback", "low_cache_hit_rate"}
    assert found["longer_cache_ttl"].figure == 4.0
    assert found["cheaper_fallback"].figure == pytest.approx(0.04 / 0.05)
    assert found["low_cache_hit_rate"].figure == 0.0


def test_percentiles_are_continuous() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([2.0, 20.0, 100.0], 0.95) == pytest.approx(92.0)
    assert percentile([50.0, 300.0], 0.5) == pytest.approx(175.0)
