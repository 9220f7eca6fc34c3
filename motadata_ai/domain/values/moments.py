"""Points in time: the one rule for a datetime without a time zone."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["aware"]


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone: a naive datetime is read as UTC (the SDK stores UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
