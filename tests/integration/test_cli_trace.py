"""``motadata-ai ask`` pointed at a real OTLP/HTTP receiver: the trace id it prints is the id of
one trace in the receiver, and that trace holds the whole query (retrieval, embedding, database
and chat spans under one ``rag.query`` root)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "examples" / "knowledge_base" / "password-reset.md"


class _Receiver(BaseHTTPRequestHandler):
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
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run(args: list[str], data_dir: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MOTADATA_", "OTEL_")) and "API_KEY" not in k
    }
    env.update(
        MOTADATA_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_SERVICE_NAME="helpdesk-cli",
    )
    return subprocess.run(
        [sys.executable, "-m", "motadata_ai.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def spans_received(receiver: ThreadingHTTPServer) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for path, body in receiver.received:  # type: ignore[attr-defined]
        if path != "/v1/traces":
            continue
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}[
                "service.name"
            ]
            for scope in resource_spans.scope_spans:
                found.extend((service, span) for span in scope.spans)
    return found


def test_the_trace_id_ask_prints_holds_the_whole_query(tmp_path: Path, receiver: ThreadingHTTPServer) -> None:
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    ingest = run(["ingest", str(ARTICLE)], tmp_path, endpoint)
    assert ingest.returncode == 0, ingest.stderr
    receiver.received.clear()  # type: ignore[attr-defined]
    ask = run(["ask", "How do I reset my password?"], tmp_path, endpoint)
    assert ask.returncode == 0, ask.stderr
    printed = re.search(r"trace ([0-9a-f]{32})", ask.stdout)
    assert printed, ask.stdout
    trace_id = bytes.fromhex(printed.group(1))
    received = spans_received(receiver)
    in_trace = [span for _, span in received if span.trace_id == trace_id]  # type: ignore[attr-defined]
    assert {service for service, _ in received} == {"helpdesk-cli"}
    roots = [span for span in in_trace if not span.parent_span_id]  # type: ignore[attr-defined]
    assert [root.name for root in roots] == ["rag.query"]  # type: ignore[attr-defined]
    names = {span.name for span in in_trace}  # type: ignore[attr-defined]
    for expected in ("rag.retrieve", "rag.dense_search", "rag.keyword_search", "rag.answer"):
        assert expected in names, sorted(names)
    assert "chat local/extractive" in names and "embeddings local/all-minilm-l6-v2" in names
    database = [s for s in in_trace if any(a.key == "db.system.name" for a in s.attributes)]  # type: ignore[attr-defined]
    assert database, sorted(names)
