"""OtelTelemetry: the telemetry port on the OpenTelemetry SDK (traces and metrics).

Each instance owns its tracer and meter providers (the global ones are left alone unless
``set_global=True``), so several SDK instances and tests do not fight over process state.
Exporters: OTLP/HTTP when ``otlp_endpoint`` is set, the console when ``console=True``, none
otherwise (spans still get ids, so trace ids reach logs and results). Extra span processors and
metric readers (e.g. in-memory ones in tests) may be passed in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from motadata_ai.ports.telemetry import AttributeValue, SpanHandle, TelemetryPort

__all__ = ["OtelSpan", "OtelTelemetry"]

INSTRUMENTATION = "motadata_ai"


class OtelSpan(SpanHandle):
    """A live OpenTelemetry span behind the port's handle."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute."""
        self._span.set_attribute(key, value)

    def record_exception(self, error: BaseException) -> None:
        """Record ``error`` and mark the span failed."""
        self._span.record_exception(error)
        self._span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        self._span.set_attribute("error.type", type(error).__name__)

    @property
    def trace_id(self) -> str:
        """The 32-hex-digit trace id."""
        context = self._span.get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else ""

    @property
    def span(self) -> trace.Span:
        """The OpenTelemetry span itself."""
        return self._span


class OtelTelemetry(TelemetryPort):
    """Spans and metrics through the OpenTelemetry SDK.

    ``service_name`` names the resource; ``otlp_endpoint`` (e.g. ``http://collector:4318``) turns
    on the OTLP/HTTP span and metric exporters; ``console`` prints spans; ``span_processors`` and
    ``metric_readers`` add more (tests pass in-memory ones); ``set_global`` also installs the
    providers as the process-wide OpenTelemetry providers.
    """

    def __init__(
        self,
        *,
        service_name: str = "motadata-ai",
        otlp_endpoint: str | None = None,
        console: bool = False,
        span_processors: Sequence[SpanProcessor] = (),
        metric_readers: Sequence[MetricReader] = (),
        set_global: bool = False,
        export_interval_s: float = 30.0,
    ) -> None:
        resource = Resource.create({"service.name": service_name})
        self.tracer_provider = TracerProvider(resource=resource)
        readers: list[MetricReader] = list(metric_readers)
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            base = otlp_endpoint.rstrip("/")
            self.tracer_provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces"))
            )
            readers.append(
                PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
                    export_interval_millis=export_interval_s * 1000,
                )
            )
        if console:
            self.tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        for processor in span_processors:
            self.tracer_provider.add_span_processor(processor)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        if set_global:
            trace.set_tracer_provider(self.tracer_provider)
            from opentelemetry import metrics

            metrics.set_meter_provider(self.meter_provider)
        self.service_name = service_name
        self.otlp_endpoint = otlp_endpoint
        self._tracer = self.tracer_provider.get_tracer(INSTRUMENTATION)
        self._meter = self.meter_provider.get_meter(INSTRUMENTATION)
        self._histograms: dict[tuple[str, str], Any] = {}
        self._counters: dict[str, Any] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"OtelTelemetry(service_name={self.service_name!r}, otlp_endpoint={self.otlp_endpoint!r})"

    @contextmanager
    def span(
        self, name: str, *, attributes: Mapping[str, AttributeValue] | None = None
    ) -> Iterator[SpanHandle]:
        """Open a span as the child of the current one; an exception leaving it is recorded."""
        with self._tracer.start_as_current_span(
            name,
            attributes=dict(attributes) if attributes else None,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            handle = OtelSpan(span)
            try:
                yield handle
            except BaseException as error:
                handle.record_exception(error)
                raise

    def current_trace_id(self) -> str:
        """The trace id of the current span ('' outside a span)."""
        context = trace.get_current_span().get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else ""

    def record_histogram(
        self, name: str, value: float, *, unit: str = "", attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Record one measurement on the named histogram (created on first use)."""
        key = (name, unit)
        histogram = self._histograms.get(key)
        if histogram is None:
            histogram = self._meter.create_histogram(name, unit=unit)
            self._histograms[key] = histogram
        histogram.record(value, attributes=dict(attributes) if attributes else None)

    def add_counter(self, name: str, value: int = 1, *, attributes: Mapping[str, Any] | None = None) -> None:
        """Add to the named monotonic counter (created on first use)."""
        counter = self._counters.get(name)
        if counter is None:
            counter = self._meter.create_counter(name)
            self._counters[name] = counter
        counter.add(value, attributes=dict(attributes) if attributes else None)

    def shutdown(self) -> None:
        """Flush and stop the exporters (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.tracer_provider.force_flush()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
