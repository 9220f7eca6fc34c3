"""Agent benchmarks: loop overhead per step, concurrent tasks, and bus messages/s.

1. **Step overhead** — an agent runs tasks of ``STEPS`` tool-calling steps plus an answer with a
   scripted model (instant) and an async no-op tool, through the real Gateway (no cache, no rate
   limit). Time spent inside the model function is measured and subtracted; what remains per model
   call is the overhead of the agent loop (prompt fitting, validation, tool dispatch, spans,
   gateway policies). Baseline in the same run: a hand-written loop calling the model port and the
   tool directly (no gateway, no validation).
2. **Concurrent tasks** — 1,000 tasks (tool call → result → answer) started at once on one agent;
   tasks per minute end to end and the number of errors.
3. **Bus** — envelopes per second published and consumed on real NATS JetStream against the
   in-memory bus (``benchmarks/bus.py``'s measurement), and agent delegations per second
   (``RemoteAgent`` → ``AgentServer`` request/reply) on both.

    python benchmarks/agents.py            # full run
    python benchmarks/agents.py --quick    # < 60 s

Starts ``nats-server -js`` in a temporary directory unless ``--nats-url`` /
``MOTADATA_BENCH_NATS_URL`` is given. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.adapters.nats import NatsBus
from motadata_ai.domain.agents import Agent, AgentServer, RemoteAgent, tool
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.values.llm import ChatRequest, Message, ToolCall
from motadata_ai.ports.bus import BusPort
from motadata_ai.testing.servers.nats import NatsServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bus import throughput

STEPS = 5
TARGET_STEP_MS = 2.0
TARGET_TASKS_PER_MIN = 1000.0


@tool
async def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """Look up a ticket.

    Args:
        ticket_id: The ticket number.
    """
    return {"id": ticket_id, "state": "open", "assignee": "network"}


class TimedModel:
    """A scripted model that calls the tool ``steps`` times then answers, timing itself."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, request: ChatRequest) -> Message | str:
        started = time.perf_counter()
        self.calls += 1
        done = sum(1 for m in request.messages if m.role == "tool")
        if done < self.steps:
            reply: Message | str = Message(
                role="assistant",
                tool_calls=(
                    ToolCall(id=f"c{done}", name="lookup_ticket", arguments='{"ticket_id": "INC-1"}'),
                ),
            )
        else:
            reply = "INC-1 is open and assigned to network."
        self.seconds += time.perf_counter() - started
        return reply


def make_gateway(llm: FunctionLLM) -> Gateway:
    return Gateway(
        llm=llm,
        embeddings=HashEmbeddings(dimensions=32),
        config=GatewayConfig(
            default_model="scripted",
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
            request_deduplication=False,
            max_retries=0,
        ),
    )


async def step_overhead(tasks: int) -> dict[str, float]:
    """Per-model-call overhead of the agent loop (model time excluded) and of a bare loop."""
    model = TimedModel(STEPS)
    llm = FunctionLLM(model)
    agent = Agent(
        agent_id="bench",
        name="bench",
        gateway=make_gateway(llm),
        tenant="bench",
        tools=[lookup_ticket],
        telemetry=RecordingTelemetry(max_items=1000),
    )
    for _ in range(5):  # warm-up
        await agent.execute_task("Check INC-1")
    model.seconds, model.calls = 0.0, 0
    per_task: list[float] = []
    started = time.perf_counter()
    for _ in range(tasks):
        t0, m0 = time.perf_counter(), model.seconds
        result = await agent.execute_task("Check INC-1")
        assert result.status == "completed" and len(result.steps) == STEPS + 1
        per_task.append(((time.perf_counter() - t0) - (model.seconds - m0)) / (STEPS + 1) * 1000)
    elapsed = time.perf_counter() - started
    agent_ms = (elapsed - model.seconds) / model.calls * 1000

    # Baseline: the same conversation with a minimal hand-written loop.
    bare_model = TimedModel(STEPS)
    bare_llm = FunctionLLM(bare_model)
    started = time.perf_counter()
    for _ in range(tasks):
        messages: list[Message] = [
            Message(role="system", content="sys"),
            Message(role="user", content="Check INC-1"),
        ]
        while True:
            response = await bare_llm.complete(ChatRequest(model="scripted", messages=tuple(messages)))
            if not response.message.tool_calls:
                break
            messages.append(response.message)
            for call in response.message.tool_calls:
                value = await lookup_ticket.function(**json.loads(call.arguments))
                messages.append(
                    Message(role="tool", tool_call_id=call.id, name=call.name, content=json.dumps(value))
                )
    bare_elapsed = time.perf_counter() - started
    bare_ms = (bare_elapsed - bare_model.seconds) / bare_model.calls * 1000
    return {
        "step_overhead_ms": agent_ms,
        "step_overhead_p50_ms": statistics.median(per_task),
        "bare_loop_step_ms": bare_ms,
    }


async def concurrent_tasks(count: int) -> dict[str, float]:
    """``count`` tasks started at once (tool call → result → answer): tasks/min and errors."""
    model = TimedModel(1)
    agent = Agent(
        agent_id="bench",
        name="bench",
        gateway=make_gateway(FunctionLLM(model)),
        tenant="bench",
        tools=[lookup_ticket],
        telemetry=RecordingTelemetry(max_items=1000),
    )
    started = time.perf_counter()
    results = await asyncio.gather(
        *(agent.execute_task(f"Check INC-{i}") for i in range(count)), return_exceptions=True
    )
    elapsed = time.perf_counter() - started
    errors = sum(1 for r in results if isinstance(r, BaseException) or r.status != "completed")
    return {"tasks": count, "tasks_per_min": count / elapsed * 60, "seconds": elapsed, "errors": errors}


async def delegations(bus: BusPort, count: int) -> dict[str, float]:
    """Sequential agent delegations over ``bus``: round trips per second and p50 latency."""
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    worker = Agent(
        agent_id="worker", name="worker", tenant=tenant, gateway=make_gateway(FunctionLLM(lambda r: "done"))
    )
    server = await AgentServer(worker, bus).start()
    proxy = RemoteAgent(bus=bus, tenant=tenant, agent_id="worker", timeout=10)
    try:
        for _ in range(3):
            await proxy.execute_task("warm up")
        timings = []
        started = time.perf_counter()
        for i in range(count):
            t0 = time.perf_counter()
            await proxy.execute_task(f"task {i}")
            timings.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        await server.stop()
    return {"delegations_per_s": count / elapsed, "delegation_p50_ms": statistics.median(timings)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    results: dict[str, Any] = {"steps_per_task": STEPS + 1}
    errors = 0

    overhead = await step_overhead(100 if quick else 500)
    print(
        f"agent loop overhead per model call: {overhead['step_overhead_ms']:.3f} ms "
        f"(p50 per task {overhead['step_overhead_p50_ms']:.3f} ms; target <= {TARGET_STEP_MS} ms); "
        f"bare hand-written loop (baseline): {overhead['bare_loop_step_ms']:.3f} ms"
    )
    results.update({k: round(v, 4) for k, v in overhead.items()})

    concurrent = await concurrent_tasks(1000)
    print(
        f"{concurrent['tasks']:.0f} concurrent tasks: {concurrent['tasks_per_min']:,.0f} tasks/min "
        f"({concurrent['seconds']:.2f} s, {concurrent['errors']:.0f} errors; "
        f"target >= {TARGET_TASKS_PER_MIN:,.0f})"
    )
    results["tasks_per_min"] = round(concurrent["tasks_per_min"], 1)
    errors += int(concurrent["errors"])

    messages = 2000 if quick else 10000
    url = args.nats_url or os.environ.get("MOTADATA_BENCH_NATS_URL")
    server = None
    if not url:
        server = NatsServer().start()
        url = server.url
    try:
        memory = InMemoryBus(subjects=("agent.>",))
        mem = await throughput(memory, messages, 16, 64)
        mem_delegations = await delegations(memory, 100 if quick else 500)
        await memory.aclose()
        stream = f"BENCH_{uuid.uuid4().hex[:8]}"
        bus = await NatsBus.connect(url, stream=stream, subjects=("agent.>",), poll_interval=0.2)
        try:
            nat = await throughput(bus, messages, 16, 64)
            nat_delegations = await delegations(bus, 100 if quick else 500)
        finally:
            await bus.client.jetstream().delete_stream(stream)
            await bus.aclose()
    finally:
        if server is not None:
            server.remove()
    print(f"{'bus':<22}{'msgs/s (pub+consume)':>22}{'delegations/s':>16}{'delegation p50 ms':>20}")
    print(
        f"{'InMemoryBus':<22}{mem['end_to_end_msgs_per_s']:>22,.0f}{mem_delegations['delegations_per_s']:>16,.1f}"
        f"{mem_delegations['delegation_p50_ms']:>20.3f}"
    )
    print(
        f"{'NatsBus (JetStream)':<22}{nat['end_to_end_msgs_per_s']:>22,.0f}"
        f"{nat_delegations['delegations_per_s']:>16,.1f}"
        f"{nat_delegations['delegation_p50_ms']:>20.3f}"
    )
    results.update(
        {
            "nats_msgs_per_s": round(nat["end_to_end_msgs_per_s"], 1),
            "memory_msgs_per_s": round(mem["end_to_end_msgs_per_s"], 1),
            "nats_delegations_per_s": round(nat_delegations["delegations_per_s"], 1),
            "nats_delegation_p50_ms": round(nat_delegations["delegation_p50_ms"], 3),
            "memory_delegations_per_s": round(mem_delegations["delegations_per_s"], 1),
            "memory_delegation_p50_ms": round(mem_delegations["delegation_p50_ms"], 3),
            "errors": errors,
        }
    )
    results["targets_met"] = (
        results["step_overhead_ms"] <= TARGET_STEP_MS
        and results["tasks_per_min"] >= TARGET_TASKS_PER_MIN
        and errors == 0
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run (< 60 s)")
    parser.add_argument("--nats-url", default=None, help="use this NATS server instead of starting one")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    results = asyncio.run(run(args))
    results["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results))
    return 0 if results["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
