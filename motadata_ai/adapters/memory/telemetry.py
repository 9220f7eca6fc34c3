"""RecordingTelemetry: an in-process TelemetryPort that keeps spans and metrics in lists.

It is the unit-test fake (assert on ``spans``) and the telemetry of the zero-dependency mode.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from motadata_ai.ports.telemetry import AttributeValue, SpanHandle, TelemetryPort


@dataclass
class RecordedSpan(SpanHandle):
    """A finished or live span held in memory."""

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    parent: RecordedSpan | None = None
    error: BaseException | None = None
    _trace_id: str = ""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute."""
        self.attributes[key] = value

    def record_exception(self, error: BaseException) -> None:
        """Mark the span failed."""
        self.error = error

    @property
    def trace_id(self) -> str:
        """The trace id shared with the span's ancestors."""
        return self._trace_id


_current: ContextVar[RecordedSpan | None] = ContextVar("motadata_recorded_span", default=None)


class RecordingTelemetry(TelemetryPort):
    """Keeps every span, histogram value and counter in memory (bounded by ``max_items``)."""

    def __init__(self, *, max_items: int = 10_000) -> None:
        self.max_items = max_items
        self.spans: list[RecordedSpan] = []
        self.histograms: list[tuple[str, float, dict[str, Any]]] = []
        self.counters: dict[str, int] = {}

    @contextmanager
    def span(
        self, name: str, *, attributes: Mapping[str, AttributeValue] | None = None
    ) -> Iterator[SpanHandle]:
        """Open a span, child of the current one."""
        parent = _current.get()
        recorded = RecordedSpan(
            name=name,
            attributes=dict(attributes or {}),
            parent=parent,
            _trace_id=parent.trace_id if parent else secrets.token_hex(16),
        )
        token = _current.set(recorded)
        try:
            yield recorded
        except BaseException as error:
            recorded.record_exception(error)
            raise
        finally:
            _current.reset(token)
            if len(self.spans) >= self.max_items:
                del self.spans[: self.max_items // 2]
            self.spans.append(recorded)

    def record_histogram(
        self, name: str, value: float, *, unit: str = "", attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Keep the measurement."""
        if len(self.histograms) >= self.max_items:
            del self.histograms[: self.max_items // 2]
        self.histograms.append((name, value, dict(attributes or {})))

    def add_counter(self, name: str, value: int = 1, *, attributes: Mapping[str, Any] | None = None) -> None:
        """Add to the named counter."""
        self.counters[name] = self.counters.get(name, 0) + value
