"""OtelTelemetry: the telemetry port on OpenTelemetry (traces, metrics and logs).

Providers: when the application has installed global tracer/meter providers, the SDK uses them
(its spans join the application's pipeline, its exporters are the application's); otherwise each
instance builds its own, so several SDK instances and tests do not fight over process state
(``set_global=True`` also installs them process-wide).

The standard OpenTelemetry environment is honoured: ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` (the resource), ``OTEL_EXPORTER_OTLP_ENDPOINT`` and the per-signal
``OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT`` (OTLP/HTTP export), ``OTEL_TRACES_SAMPLER``
and ``OTEL_TRACES_SAMPLER_ARG`` (the sampler), ``OTEL_SDK_DISABLED`` (nothing is recorded),
``OTEL_PROPAGATORS`` (how trace context crosses the bus). Without an endpoint nothing is exported,
but spans still get ids, so trace ids reach logs and results.

Histograms carry the bucket boundaries the GenAI semantic conventions recommend
(:data:`~motadata_ai.adapters.otel.conventions.HISTOGRAM_BOUNDARIES`) as advice to the provider,
so an application's own provider uses them too.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import ProxyTracerProvider, Status, StatusCode

from motadata_ai.adapters.otel.conventions import boundaries_for, span_kind_for
from motadata_ai.ports.telemetry import AttributeValue, SpanHandle, SpanKind, TelemetryPort

__all__ = ["DEFAULT_SERVICE_NAME", "OtelSpan", "OtelTelemetry", "sdk_disabled"]

INSTRUMENTATION = "motadata_ai"
DEFAULT_SERVICE_NAME = "motadata-ai"
"""The service name when neither the caller nor ``OTEL_SERVICE_NAME`` names one."""

_KINDS: dict[str, trace.SpanKind] = {
    "internal": trace.SpanKind.INTERNAL,
    "client": trace.SpanKind.CLIENT,
    "server": trace.SpanKind.SERVER,
    "producer": trace.SpanKind.PRODUCER,
    "consumer": trace.SpanKind.CONSUMER,
}


def sdk_disabled() -> bool:
    """Whether ``OTEL_SDK_DISABLED`` turns the OpenTelemetry SDK off."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _signal_endpoint(signal: str, base: str | None) -> str | None:
    """The OTLP/HTTP endpoint of ``signal`` (traces, metrics, logs): its own variable, else
    ``<base>/v1/<signal>``, else none."""
    own = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if own:
        return own
    base = base or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None
    return f"{base.rstrip('/')}/v1/{signal}" if base else None


def _resource(service_name: str | None) -> Any:
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, Any] = {}
    if service_name:
        attributes["service.name"] = service_name
    elif not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    return Resource.create(attributes)  # merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME


def _global_tracer_provider() -> trace.TracerProvider | None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider


def _global_meter_provider() -> metrics.MeterProvider | None:
    provider = metrics.get_meter_provider()
    if type(provider).__name__ in {"_ProxyMeterProvider", "NoOpMeterProvider"}:
        return None
    return provider


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
        self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))
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
    """Spans, metrics and logs through OpenTelemetry (see the module doc).

    ``service_name`` names the resource (default: ``OTEL_SERVICE_NAME``, else ``motadata-ai``);
    ``otlp_endpoint`` (e.g. ``http://collector:4318``) turns on OTLP/HTTP export of every signal
    (a per-signal ``OTEL_EXPORTER_OTLP_*_ENDPOINT`` wins for its signal); ``console`` prints
    spans; ``span_processors`` and ``metric_readers`` add more (tests pass in-memory ones, and
    passing any makes the instance build its own providers); ``use_global`` (default) uses the
    application's global providers when it has set them; ``set_global`` installs this
    instance's providers process-wide.
    """

    def __init__(
        self,
        *,
        service_name: str | None = None,
        otlp_endpoint: str | None = None,
        console: bool = False,
        span_processors: Sequence[Any] = (),
        metric_readers: Sequence[Any] = (),
        log_processors: Sequence[Any] = (),
        set_global: bool = False,
        use_global: bool = True,
        export_interval_s: float = 30.0,
    ) -> None:
        self.otlp_endpoint = otlp_endpoint
        self.disabled = sdk_disabled()
        self.tracer_provider: Any = None
        self.meter_provider: Any = None
        self.logger_provider: Any = None
        self._owns_providers = False
        self._histograms: dict[tuple[str, str], Any] = {}
        self._counters: dict[str, Any] = {}
        self._closed = False
        explicit = bool(span_processors or metric_readers or log_processors)
        if self.disabled:
            self.service_name = service_name or os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
            self._tracer: trace.Tracer = trace.NoOpTracer()
            self._meter: metrics.Meter = metrics.NoOpMeter(INSTRUMENTATION)
            return
        global_tracer = _global_tracer_provider() if use_global and not explicit and not set_global else None
        global_meter = _global_meter_provider() if use_global and not explicit and not set_global else None
        if global_tracer is not None:
            self.tracer_provider = global_tracer
            self.meter_provider = global_meter or metrics.get_meter_provider()
            resource = getattr(global_tracer, "resource", None)
            name = resource.attributes.get("service.name") if resource is not None else None
            self.service_name = str(name or service_name or DEFAULT_SERVICE_NAME)
        else:
            self._build(
                service_name, console, span_processors, metric_readers, log_processors, export_interval_s
            )
            self._owns_providers = True
            if set_global:
                trace.set_tracer_provider(self.tracer_provider)
                metrics.set_meter_provider(self.meter_provider)
        self._tracer = self.tracer_provider.get_tracer(INSTRUMENTATION)
        self._meter = self.meter_provider.get_meter(INSTRUMENTATION)
        self._log_handler = self.log_handler()
        if self._log_handler is not None:  # the SDK's own records go out as OpenTelemetry logs
            logging.getLogger(INSTRUMENTATION).addHandler(self._log_handler)

    def _build(
        self,
        service_name: str | None,
        console: bool,
        span_processors: Sequence[Any],
        metric_readers: Sequence[Any],
        log_processors: Sequence[Any],
        export_interval_s: float,
    ) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )

        resource = _resource(service_name)
        self.service_name = str(resource.attributes.get("service.name", DEFAULT_SERVICE_NAME))
        self.tracer_provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
        readers = list(metric_readers)
        traces_endpoint = _signal_endpoint("traces", self.otlp_endpoint)
        if traces_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.tracer_provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_endpoint))
            )
        metrics_endpoint = _signal_endpoint("metrics", self.otlp_endpoint)
        if metrics_endpoint:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(
                PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=metrics_endpoint),
                    export_interval_millis=export_interval_s * 1000,
                )
            )
        if console:
            self.tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        for processor in span_processors:
            self.tracer_provider.add_span_processor(processor)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        processors = list(log_processors)
        logs_endpoint = _signal_endpoint("logs", self.otlp_endpoint)
        if logs_endpoint:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

            processors.append(BatchLogRecordProcessor(OTLPLogExporter(endpoint=logs_endpoint)))
        if processors:
            from opentelemetry.sdk._logs import LoggerProvider

            self.logger_provider = LoggerProvider(resource=resource)
            for log_processor in processors:
                self.logger_provider.add_log_record_processor(log_processor)

    @property
    def enabled(self) -> bool:
        """``False`` when ``OTEL_SDK_DISABLED`` turned the SDK off (nothing is recorded)."""
        return not self.disabled

    def __repr__(self) -> str:
        return f"OtelTelemetry(service_name={self.service_name!r}, otlp_endpoint={self.otlp_endpoint!r})"

    @contextmanager
    def span(
        self,
        name: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        kind: SpanKind = "internal",
        remote_parent: Mapping[str, str] | None = None,
    ) -> Iterator[SpanHandle]:
        """Open a span as the child of the current one (or of the trace ``remote_parent``'s W3C
        headers name); an exception leaving it is recorded. A GenAI model call (``chat``,
        ``embeddings``) is a CLIENT span whatever ``kind`` says."""
        context = propagate.extract(dict(remote_parent)) if remote_parent else None
        with self._tracer.start_as_current_span(
            name,
            context=context,
            kind=_KINDS[span_kind_for(kind, attributes)],
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

    def record_span(
        self,
        name: str,
        *,
        duration_s: float,
        kind: SpanKind = "internal",
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        """Record a finished span of ``duration_s`` ending now, child of the current span."""
        end = time.time_ns()
        span = self._tracer.start_span(
            name,
            kind=_KINDS[kind],
            attributes=dict(attributes) if attributes else None,
            start_time=end - int(max(duration_s, 0.0) * 1e9),
        )
        if attributes and "error.type" in attributes:
            span.set_status(Status(StatusCode.ERROR, str(attributes["error.type"])))
        span.end(end_time=end)

    def current_trace_id(self) -> str:
        """The trace id of the current span ('' outside a span)."""
        context = trace.get_current_span().get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else ""

    def inject(self, carrier: MutableMapping[str, str]) -> None:
        """Write the current trace context into ``carrier`` (W3C ``traceparent``/``tracestate``)."""
        propagate.inject(carrier)

    def record_histogram(
        self, name: str, value: float, *, unit: str = "", attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Record one measurement on the named histogram (created on first use, with the
        GenAI conventions' bucket boundaries for its unit)."""
        self._histogram(name, unit).record(value, attributes=dict(attributes) if attributes else None)

    def add_counter(self, name: str, value: int = 1, *, attributes: Mapping[str, Any] | None = None) -> None:
        """Add to the named monotonic counter (created on first use)."""
        self._counter(name).add(value, attributes=dict(attributes) if attributes else None)

    def _histogram(self, name: str, unit: str) -> Any:
        key = (name, unit)
        histogram = self._histograms.get(key)
        if histogram is None:
            histogram = self._meter.create_histogram(
                name, unit=unit, explicit_bucket_boundaries_advisory=boundaries_for(name, unit)
            )
            self._histograms[key] = histogram
        return histogram

    def _counter(self, name: str) -> Any:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._meter.create_counter(name)
            self._counters[name] = counter
        return counter

    @property
    def instrument_names(self) -> frozenset[str]:
        """The names of the histograms and counters created so far."""
        return frozenset({name for name, _ in self._histograms} | set(self._counters))

    def prepare_instruments(
        self, *, histograms: Iterable[tuple[str, str]] = (), counters: Iterable[str] = ()
    ) -> None:
        """Create the named histograms (name, unit) and counters now, so that the first call
        recording them does not (nothing is recorded: no series exists until a measurement)."""
        for name, unit in histograms:
            self._histogram(name, unit)
        for name in counters:
            self._counter(name)

    def log_handler(self, level: int = logging.NOTSET) -> logging.Handler | None:
        """A logging handler that exports records as OpenTelemetry logs (``None`` when no log
        exporter is configured)."""
        if self.logger_provider is None:
            return None
        from opentelemetry.sdk._logs import LoggingHandler

        return LoggingHandler(level=level, logger_provider=self.logger_provider)

    def shutdown(self) -> None:
        """Flush and stop the exporters this instance owns (idempotent; an application's global
        providers are left to the application)."""
        if self._closed:
            return
        self._closed = True
        if getattr(self, "_log_handler", None) is not None:
            logging.getLogger(INSTRUMENTATION).removeHandler(self._log_handler)
        if not self._owns_providers:
            return
        self.tracer_provider.force_flush()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        if self.logger_provider is not None:
            self.logger_provider.shutdown()
