"""A remote agent's work joins the caller's trace over real NATS JetStream.

Two "processes" (each its own NATS connection and its own OpenTelemetry providers and exporter)
talk through the bus: the caller's ``publish`` span travels as W3C ``traceparent`` in the
message headers, and the remote side's ``process`` span, its agent run and its model call all
belong to the caller's trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.nats import NatsBus
from motadata_ai.adapters.otel import OtelTelemetry
from motadata_ai.domain.agents import Agent, AgentServer, RemoteAgent
from motadata_ai.domain.bus import agent_subject
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway

pytestmark = [pytest.mark.nats]


class Process:
    """The telemetry of one side and its finished spans."""

    def __init__(self, name: str) -> None:
        self.exporter = InMemorySpanExporter()
        self.telemetry = OtelTelemetry(
            service_name=name, span_processors=[SimpleSpanProcessor(self.exporter)]
        )

    def spans(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.exporter.get_finished_spans()}


@pytest.fixture
def sides() -> Iterator[tuple[Process, Process]]:
    caller, remote = Process("caller"), Process("remote")
    yield caller, remote
    caller.telemetry.shutdown()
    remote.telemetry.shutdown()


async def test_a_remote_agent_task_joins_the_callers_trace(
    nats_url: str, sides: tuple[Process, Process]
) -> None:
    caller, remote = sides
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    caller_bus = await NatsBus.connect(nats_url, telemetry=caller.telemetry)
    remote_bus = await NatsBus.connect(nats_url, telemetry=remote.telemetry)
    server: AgentServer | None = None
    try:
        gateway = Gateway(
            llm=FunctionLLM(lambda request: "P2, route to the network team"),
            embeddings=HashEmbeddings(dimensions=32),
            config=GatewayConfig(
                default_model="scripted",
                default_embedding_model="hash",
                enable_caching=False,
                requests_per_minute=None,
            ),
            telemetry=remote.telemetry,
        )
        triage = Agent(
            agent_id="triage",
            name="triage",
            gateway=gateway,
            tenant=tenant,
            bus=remote_bus,
            telemetry=remote.telemetry,
        )
        server = await AgentServer(triage, remote_bus).start()
        proxy = RemoteAgent(bus=caller_bus, tenant=tenant, agent_id="triage", timeout=15)
        with caller.telemetry.span("handle INC-1") as outer:
            task = await proxy.execute_task("classify INC-1: VPN down")
    finally:
        if server is not None:
            await server.stop()
        await caller_bus.aclose()
        await remote_bus.aclose()

    assert task.status == "completed" and task.answer == "P2, route to the network team"
    assert task.trace_id == outer.trace_id  # the remote result names the caller's trace
    subject = agent_subject(tenant, "triage")  # agent.{tenant}.nobody.triage.task: no user
    sent, received = caller.spans(), remote.spans()
    publish = sent[f"publish {subject}"]
    assert publish.kind == SpanKind.PRODUCER and publish.parent is not None
    assert publish.parent.span_id == sent["handle INC-1"].context.span_id
    process = received[f"process {subject}"]
    assert process.kind == SpanKind.CONSUMER
    assert process.parent is not None and process.parent.is_remote
    assert process.parent.span_id == publish.context.span_id
    run, chat = received["invoke_agent triage"], received["chat scripted"]
    assert run.parent is not None and run.parent.span_id == process.context.span_id
    assert chat.parent is not None and chat.parent.span_id == run.context.span_id
    trace_ids = {s.context.trace_id for s in [*sent.values(), *received.values()]}
    assert trace_ids == {sent["handle INC-1"].context.trace_id}
    attributes = process.attributes or {}
    assert attributes["messaging.system"] == "nats" and attributes["messaging.destination.name"] == subject
    assert attributes["motadata.tenant.id"] == tenant and attributes["server.address"] == "127.0.0.1"


async def test_an_in_process_bus_carries_the_trace_to_its_handler() -> None:
    from motadata_ai.adapters.memory.bus import InMemoryBus

    side = Process("one-process")
    bus = InMemoryBus(telemetry=side.telemetry)
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "done"),
        embeddings=HashEmbeddings(dimensions=32),
        config=GatewayConfig(
            default_model="scripted",
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
        ),
        telemetry=side.telemetry,
    )
    worker = Agent(
        agent_id="worker", name="worker", gateway=gateway, tenant="acme", bus=bus, telemetry=side.telemetry
    )
    server = await AgentServer(worker, bus).start()
    try:
        with side.telemetry.span("handle INC-2") as outer:
            task = await RemoteAgent(bus=bus, tenant="acme", agent_id="worker", timeout=5).execute_task(
                "close INC-2"
            )
    finally:
        await server.stop()
        await bus.aclose()
        side.telemetry.shutdown()
    spans = side.spans()
    assert task.trace_id == outer.trace_id
    subject = agent_subject("acme", "worker")
    publish, process = spans[f"publish {subject}"], spans[f"process {subject}"]
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert (process.attributes or {})["messaging.system"] == "memory"
    assert {s.context.trace_id for s in spans.values()} == {spans["handle INC-2"].context.trace_id}
