"""OtelTelemetry on the OpenTelemetry SDK: spans with attributes and parent/child links, failures,
metrics, and OTLP/HTTP export to a real loopback collector flushed by ``shutdown()``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from motadata_ai.adapters.otel import OtelTelemetry
from motadata_ai.ports.telemetry import TelemetryPort


@pytest.fixture
def recorded() -> Iterator[tuple[OtelTelemetry, InMemorySpanExporter, InMemoryMetricReader]]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = OtelTelemetry(
        service_name="motadata-test", span_processors=[SimpleSpanProcessor(exporter)], metric_readers=[reader]
    )
    yield telemetry, exporter, reader
    telemetry.shutdown()


def test_spans_carry_attributes_and_parent_links(
    recorded: tuple[OtelTelemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    telemetry, exporter, _ = recorded
    assert isinstance(telemetry, TelemetryPort)
    with telemetry.span("invoke_agent helpdesk", attributes={"gen_ai.agent.name": "helpdesk"}) as outer:
        with telemetry.span("chat gpt-4o-mini", attributes={"gen_ai.request.model": "gpt-4o-mini"}) as inner:
            inner.set_attribute("gen_ai.usage.input_tokens", 12)
            inner.set_attribute("gen_ai.response.finish_reasons", ["stop"])
            assert inner.trace_id == outer.trace_id
            assert telemetry.current_trace_id() == outer.trace_id
    spans = {s.name: s for s in exporter.get_finished_spans()}
    chat, agent = spans["chat gpt-4o-mini"], spans["invoke_agent helpdesk"]
    assert chat.parent is not None and chat.parent.span_id == agent.context.span_id
    assert agent.parent is None
    assert chat.context.trace_id == agent.context.trace_id
    assert format(agent.context.trace_id, "032x") == outer.trace_id
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 12
    assert tuple(chat.attributes["gen_ai.response.finish_reasons"]) == ("stop",)
    assert agent.resource.attributes["service.name"] == "motadata-test"
    assert telemetry.current_trace_id() == ""


def test_sibling_spans_get_separate_traces(
    recorded: tuple[OtelTelemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    telemetry, _, _ = recorded
    with telemetry.span("a") as first:
        pass
    with telemetry.span("b") as second:
        pass
    assert first.trace_id and second.trace_id and first.trace_id != second.trace_id


def test_an_exception_marks_the_span_failed(
    recorded: tuple[OtelTelemetry, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    telemetry, exporter, _ = recorded
    with pytest.raises(ValueError, match="bad input"), telemetry.span("execute_tool lookup_asset"):
        raise ValueError("bad input")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"
    assert [e.name for e in span.events] == ["exception"]


def test_metrics(recorded: tuple[OtelTelemetry, InMemorySpanExporter, InMemoryMetricReader]) -> None:
    telemetry, _, reader = recorded
    telemetry.record_histogram("gen_ai.client.operation.duration", 0.25, unit="s", attributes={"model": "m"})
    telemetry.record_histogram("gen_ai.client.operation.duration", 0.75, unit="s", attributes={"model": "m"})
    telemetry.add_counter("motadata.cache.hits", 3, attributes={"tenant": "t1"})
    telemetry.add_counter("motadata.cache.hits", 2, attributes={"tenant": "t1"})
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    (histogram,) = metrics["gen_ai.client.operation.duration"].data.data_points
    assert histogram.count == 2 and histogram.sum == pytest.approx(1.0)
    assert metrics["gen_ai.client.operation.duration"].unit == "s"
    (counter,) = metrics["motadata.cache.hits"].data.data_points
    assert counter.value == 5 and dict(counter.attributes) == {"tenant": "t1"}


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_otlp_http_export_is_flushed_on_shutdown(collector: ThreadingHTTPServer) -> None:
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    telemetry = OtelTelemetry(service_name="motadata-otlp", otlp_endpoint=endpoint, export_interval_s=3600)
    with telemetry.span("embeddings all-minilm-l6-v2", attributes={"gen_ai.operation.name": "embeddings"}):
        with telemetry.span("db.query"):
            pass
    telemetry.add_counter("motadata.cache.misses")
    telemetry.shutdown()
    telemetry.shutdown()  # idempotent
    received = collector.received  # type: ignore[attr-defined]
    traces = [body for path, body in received if path == "/v1/traces"]
    metrics = [body for path, body in received if path == "/v1/metrics"]
    assert traces, f"no spans reached the collector: {[p for p, _ in received]}"
    names = set()
    for body in traces:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert attributes["service.name"] == "motadata-otlp"
            for scope in resource_spans.scope_spans:
                names.update(span.name for span in scope.spans)
    assert names == {"embeddings all-minilm-l6-v2", "db.query"}
    assert metrics
    request = ExportMetricsServiceRequest()
    request.ParseFromString(metrics[-1])
    metric_names = {m.name for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "motadata.cache.misses" in metric_names


def test_without_exporters_spans_still_have_ids() -> None:
    telemetry = OtelTelemetry()
    with telemetry.span("chat local/extractive") as span:
        assert len(span.trace_id) == 32 and int(span.trace_id, 16) != 0
    telemetry.shutdown()


# --- the standard OpenTelemetry environment ------------------------------------------------------


def _resource_of(telemetry: OtelTelemetry, exporter: InMemorySpanExporter) -> dict[str, object]:
    with telemetry.span("probe"):
        pass
    (span,) = exporter.get_finished_spans()
    return dict(span.resource.attributes)


def test_otel_service_name_and_resource_attributes_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "ticket-service")
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,service.namespace=itsm"
    )
    exporter = InMemorySpanExporter()
    telemetry = OtelTelemetry(span_processors=[SimpleSpanProcessor(exporter)])
    attributes = _resource_of(telemetry, exporter)
    telemetry.shutdown()
    assert attributes["service.name"] == "ticket-service" and telemetry.service_name == "ticket-service"
    assert attributes["deployment.environment.name"] == "staging"
    assert attributes["service.namespace"] == "itsm"


def test_without_otel_service_name_the_service_is_motadata_ai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    exporter = InMemorySpanExporter()
    telemetry = OtelTelemetry(span_processors=[SimpleSpanProcessor(exporter)])
    assert _resource_of(telemetry, exporter)["service.name"] == "motadata-ai"
    telemetry.shutdown()


def test_the_sampler_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    exporter = InMemorySpanExporter()
    telemetry = OtelTelemetry(span_processors=[SimpleSpanProcessor(exporter)])
    with telemetry.span("not sampled") as span:
        assert len(span.trace_id) == 32  # the trace id still reaches results and logs
    telemetry.shutdown()
    assert exporter.get_finished_spans() == ()


def test_otel_sdk_disabled_records_nothing(
    monkeypatch: pytest.MonkeyPatch, collector: ThreadingHTTPServer
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    telemetry = OtelTelemetry(otlp_endpoint=endpoint, export_interval_s=3600)
    with telemetry.span("chat m") as span:
        assert span.trace_id == ""
    telemetry.record_histogram("gen_ai.client.operation.duration", 0.1, unit="s")
    telemetry.shutdown()
    assert telemetry.disabled and collector.received == []  # type: ignore[attr-defined]
    assert telemetry.enabled is False


def test_per_signal_endpoints_win_over_the_general_one(
    monkeypatch: pytest.MonkeyPatch, collector: ThreadingHTTPServer
) -> None:
    base = f"http://127.0.0.1:{collector.server_address[1]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{base}/custom/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"{base}/custom/metrics")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", f"{base}/custom/logs")
    telemetry = OtelTelemetry(export_interval_s=3600)
    with telemetry.span("rag.query"):
        logging.getLogger("motadata_ai.test").warning("exported as an OpenTelemetry log")
    telemetry.add_counter("motadata.rag.empty_results")
    telemetry.shutdown()
    paths = {path for path, _ in collector.received}  # type: ignore[attr-defined]
    assert paths == {"/custom/traces", "/custom/metrics", "/custom/logs"}


GLOBAL_PROVIDER_SCRIPT = """
import json
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from motadata_ai.adapters.otel import OtelTelemetry

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "the-application"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
app_tracer = trace.get_tracer("app")
telemetry = OtelTelemetry()
with app_tracer.start_as_current_span("app request") as outer:
    with telemetry.span("rag.query") as inner:
        same = inner.trace_id == format(outer.get_span_context().trace_id, "032x")
telemetry.shutdown()  # the application's provider is not the SDK's to stop
with app_tracer.start_as_current_span("after shutdown"):
    pass
print(json.dumps({
    "same_trace": same,
    "names": sorted(s.name for s in exporter.get_finished_spans()),
    "service": telemetry.service_name,
}))
"""


def test_the_applications_global_provider_is_used_when_set() -> None:
    import json
    import subprocess
    import sys

    # a fresh interpreter: the global provider can be set once per process
    done = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDER_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "same_trace": True,
        "names": ["after shutdown", "app request", "rag.query"],
        "service": "the-application",
    }
