"""TelemetryPort: spans and metrics, so the domain traces itself without the OpenTelemetry SDK.

A span has a kind (``internal`` by default; ``client`` for a call to a remote provider or server,
``producer``/``consumer`` for messaging). Trace context crosses process boundaries as W3C
``traceparent``/``tracestate`` headers: :meth:`TelemetryPort.inject` writes the current span's
context into a carrier, and ``span(..., remote_parent=headers)`` continues the trace they name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import Any, Literal

AttributeValue = str | bool | int | float | list[str] | list[int] | list[float]

SpanKind = Literal["internal", "client", "server", "producer", "consumer"]
"""The OpenTelemetry span kinds."""

TENANT_ATTRIBUTE = "motadata.tenant.id"
"""The one span and metric attribute key that names the tenant."""


class SpanHandle(ABC):
    """The live span a ``with telemetry.span(...)`` block sees."""

    @abstractmethod
    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute."""

    @abstractmethod
    def record_exception(self, error: BaseException) -> None:
        """Mark the span failed with ``error``."""

    @property
    @abstractmethod
    def trace_id(self) -> str:
        """The 32-hex-digit trace id ('' when tracing is off)."""


class TelemetryPort(ABC):
    """Traces and metrics. Span and metric names follow the OpenTelemetry GenAI conventions."""

    @property
    def enabled(self) -> bool:
        """``False`` when this telemetry records nothing at all (spans and metrics are no-ops),
        so callers may skip building what they would record."""
        return True

    @abstractmethod
    def span(
        self,
        name: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        kind: SpanKind = "internal",
        remote_parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[SpanHandle]:
        """Open a span as the child of the current one (or of the trace named by the W3C headers
        in ``remote_parent``); exceptions leaving it are recorded."""

    @abstractmethod
    def record_histogram(
        self, name: str, value: float, *, unit: str = "", attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Record one measurement (e.g. ``gen_ai.client.operation.duration`` in s)."""

    @abstractmethod
    def add_counter(self, name: str, value: int = 1, *, attributes: Mapping[str, Any] | None = None) -> None:
        """Add to a monotonic counter (e.g. cache hits)."""

    def record_span(  # noqa: B027
        self,
        name: str,
        *,
        duration_s: float,
        kind: SpanKind = "internal",
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        """Record a span that has just finished, ``duration_s`` long, as a child of the current one
        (for work timed by a library, such as a database query); nothing when tracing is off."""

    def current_trace_id(self) -> str:
        """The trace id of the current span ('' outside a span or when tracing is off)."""
        return ""

    def inject(self, carrier: MutableMapping[str, str]) -> None:  # noqa: B027
        """Write the current trace context into ``carrier`` as W3C headers (nothing when off)."""

    def shutdown(self) -> None:  # noqa: B027
        """Flush and stop exporters."""
