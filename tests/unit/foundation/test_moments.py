"""The one rule for a datetime without a time zone: it is read as UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from motadata_ai.domain.values.moments import aware


def test_a_naive_datetime_is_read_as_utc() -> None:
    assert aware(datetime(2026, 1, 2, 3, 4)) == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def test_an_aware_datetime_keeps_its_zone() -> None:
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert aware(moment) is moment
