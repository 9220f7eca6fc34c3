"""RecordingTelemetry: an in-process TelemetryPort that keeps spans and metrics in lists.

It is the unit-test fake (assert on ``spans``) and the telemetry of the zero-dependency mode.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from motadata_ai.ports.telemetry import AttributeValue, SpanHandle, SpanKind, TelemetryPort


@dataclass
class RecordedSpan(SpanHandle):
    """A finished or live span held in memory."""

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    parent: RecordedSpan | None = None
    error: BaseException | None = None
    kind: SpanKind = "internal"
    _trace_id: str = ""
    span_id: str = field(default_factory=lambda: secrets.token_hex(8))

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
        self,
        name: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        kind: SpanKind = "internal",
        remote_parent: Mapping[str, str] | None = None,
    ) -> Iterator[SpanHandle]:
        """Open a span, child of the current one (or of the trace ``remote_parent`` names)."""
        parent = _current.get()
        remote = _remote_trace_id(remote_parent)
        recorded = RecordedSpan(
            name=name,
            attributes=dict(attributes or {}),
            parent=None if remote else parent,
            kind=kind,
            _trace_id=remote or (parent.trace_id if parent else secrets.token_hex(16)),
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

    def record_span(
        self,
        name: str,
        *,
        duration_s: float,
        kind: SpanKind = "internal",
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        """Keep a finished span, child of the current one."""
        parent = _current.get()
        if len(self.spans) >= self.max_items:
            del self.spans[: self.max_items // 2]
        self.spans.append(
            RecordedSpan(
                name=name,
                attributes=dict(attributes or {}),
                parent=parent,
                kind=kind,
                _trace_id=parent.trace_id if parent else secrets.token_hex(16),
            )
        )

    def current_trace_id(self) -> str:
        """The trace id of the current span ('' outside one)."""
        current = _current.get()
        return current.trace_id if current else ""

    def inject(self, carrier: MutableMapping[str, str]) -> None:
        """Write the current span as a W3C ``traceparent`` header."""
        current = _current.get()
        if current is not None:
            carrier["traceparent"] = f"00-{current.trace_id}-{current.span_id}-01"

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


def _remote_trace_id(headers: Mapping[str, str] | None) -> str:
    """The trace id of a W3C ``traceparent`` header ('' when absent or malformed)."""
    parts = (headers or {}).get("traceparent", "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
        return parts[1]
    return ""
