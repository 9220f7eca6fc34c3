"""TelemetryPort: spans and metrics, so the domain traces itself without the OpenTelemetry SDK."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

AttributeValue = str | bool | int | float | list[str] | list[int] | list[float]


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

    @abstractmethod
    def span(
        self, name: str, *, attributes: Mapping[str, AttributeValue] | None = None
    ) -> AbstractContextManager[SpanHandle]:
        """Open a span as the child of the current one; exceptions leaving it are recorded."""

    @abstractmethod
    def record_histogram(
        self, name: str, value: float, *, unit: str = "", attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Record one measurement (e.g. ``gen_ai.client.operation.duration`` in s)."""

    @abstractmethod
    def add_counter(self, name: str, value: int = 1, *, attributes: Mapping[str, Any] | None = None) -> None:
        """Add to a monotonic counter (e.g. cache hits)."""

    def shutdown(self) -> None:  # noqa: B027
        """Flush and stop exporters."""
