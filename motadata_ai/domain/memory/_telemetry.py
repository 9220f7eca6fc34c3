"""A telemetry port that records nothing, for agents and memory built without telemetry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from motadata_ai.ports.telemetry import AttributeValue, SpanHandle, SpanKind, TelemetryPort


class _NoSpan(SpanHandle):
    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Ignore."""

    def record_exception(self, error: BaseException) -> None:
        """Ignore."""

    @property
    def trace_id(self) -> str:
        """No trace."""
        return ""


_NO_SPAN = _NoSpan()


class NoTelemetry(TelemetryPort):
    """Spans and metrics go nowhere."""

    @contextmanager
    def span(
        self,
        name: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        kind: SpanKind = "internal",
        remote_parent: Mapping[str, str] | None = None,
    ) -> Iterator[SpanHandle]:
        """A span that records nothing."""
        yield _NO_SPAN

    def record_histogram(
        self, name: str, value: float, *, unit: str = "", attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Ignore."""

    def add_counter(self, name: str, value: int = 1, *, attributes: Mapping[str, Any] | None = None) -> None:
        """Ignore."""
