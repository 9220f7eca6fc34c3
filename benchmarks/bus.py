"""Bus throughput and request/reply latency: NatsBus on real NATS JetStream against InMemoryBus.

For each bus, in the same run: ``N`` envelopes are published (``--publishers`` concurrent
publishers, each publish awaiting its JetStream ack) to a tenant subject while a durable
consumer (``--concurrency`` handlers) consumes them; the figure is messages/s from the first
publish to the last message handled (publish + consume). Also: publish-only messages/s, and
request/reply round-trip p50/p95 at concurrency 1. A raw nats-py JetStream loop (publish with
Nats-Msg-Id, pull-fetch, ack; no codec, no validation) on the same server is the baseline that
shows what the adapter adds.

    python benchmarks/bus.py            # 20,000 messages
    python benchmarks/bus.py --quick    # 3,000 messages, < 60 s

Uses ``--nats-url`` / ``MOTADATA_BENCH_NATS_URL`` when given, else starts ``nats-server -js`` in a
temporary directory. The last line printed is one JSON object.
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
from typing import Any

import nats

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.nats import NatsBus
from motadata_ai.domain.bus import agent_subject
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.ports.bus import BusPort
from motadata_ai.testing.servers.nats import NatsServer

TENANT = "bench-tenant"


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def throughput(bus: BusPort, n: int, publishers: int, concurrency: int) -> dict[str, float]:
    """Publish ``n`` envelopes and consume them on one durable consumer; rates in messages/s."""
    subject = agent_subject(TENANT, f"worker-{uuid.uuid4().hex[:8]}")
    done = asyncio.Event()
    handled = 0
    per_publisher = n // publishers
    total = per_publisher * publishers

    async def handler(envelope: Envelope) -> None:
        nonlocal handled
        handled += 1
        if handled >= total:
            done.set()

    sub = await bus.subscribe(subject, handler, durable="bench", concurrency=concurrency)
    payload = {"text": "Printer on floor 3 is out of toner", "priority": 3, "tags": ["hw", "print"]}

    async def publish_many(count: int) -> None:
        for _ in range(count):
            await bus.publish(subject, Envelope(tenant_id=TENANT, type="task", payload=payload))

    start = time.perf_counter()
    await asyncio.gather(*(publish_many(per_publisher) for _ in range(publishers)))
    published = time.perf_counter()
    await asyncio.wait_for(done.wait(), timeout=120)
    finished = time.perf_counter()
    await sub.stop()
    return {
        "publish_msgs_per_s": total / (published - start),
        "end_to_end_msgs_per_s": total / (finished - start),
    }


async def request_latency(bus: BusPort, count: int) -> dict[str, float]:
    """Request/reply round trips at concurrency 1: p50/p95 in milliseconds."""
    subject = agent_subject(TENANT, f"responder-{uuid.uuid4().hex[:8]}")

    async def respond(envelope: Envelope) -> Envelope:
        return Envelope(tenant_id=envelope.tenant_id, type="answer", payload={"ok": True})

    sub = await bus.subscribe(subject, respond, durable="responder")
    timings: list[float] = []
    for i in range(count + 5):
        start = time.perf_counter()
        await bus.request(subject, Envelope(tenant_id=TENANT, type="question"), timeout=10)
        if i >= 5:  # warm-up
            timings.append((time.perf_counter() - start) * 1000)
    await sub.stop()
    return {"request_p50_ms": statistics.median(timings), "request_p95_ms": percentile(timings, 0.95)}


async def raw_nats(url: str, n: int, publishers: int, batch: int) -> float:
    """Baseline: nats-py JetStream publish + pull fetch + ack, no codec. Messages/s end to end."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = f"RAW_{uuid.uuid4().hex[:8]}"
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"], duplicate_window=120)
    subject = f"{stream.lower()}.t.task"
    psub = await js.pull_subscribe(subject, durable="raw", stream=stream)
    data = json.dumps({"text": "Printer on floor 3 is out of toner", "priority": 3}).encode()
    per_publisher = n // publishers
    total = per_publisher * publishers
    consumed = 0

    async def consume() -> None:
        nonlocal consumed
        while consumed < total:
            try:
                msgs = await psub.fetch(batch, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for msg in msgs:
                await msg.ack()
            consumed += len(msgs)

    async def publish_many(count: int) -> None:
        for _ in range(count):
            await js.publish(subject, data, headers={"Nats-Msg-Id": uuid.uuid4().hex})

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    await asyncio.gather(*(publish_many(per_publisher) for _ in range(publishers)))
    await asyncio.wait_for(consumer, timeout=120)
    elapsed = time.perf_counter() - start
    await js.delete_stream(stream)
    await nc.close()
    return total / elapsed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.messages or (3_000 if args.quick else 20_000)
    requests = 200 if args.quick else 1_000
    url = args.nats_url or os.environ.get("MOTADATA_BENCH_NATS_URL")
    server = None
    if not url:
        server = NatsServer().start()
        url = server.url
    try:
        results: dict[str, Any] = {
            "messages": n, "publishers": args.publishers, "concurrency": args.concurrency,
        }

        memory = InMemoryBus(subjects=("agent.>",))
        mem = await throughput(memory, n, args.publishers, args.concurrency)
        mem_req = await request_latency(memory, requests)
        await memory.aclose()

        stream = f"BENCH_{uuid.uuid4().hex[:8]}"
        bus = await NatsBus.connect(url, stream=stream, subjects=("agent.>",), poll_interval=0.2)
        try:
            nat = await throughput(bus, n, args.publishers, args.concurrency)
            nat_req = await request_latency(bus, requests)
        finally:
            await bus.client.jetstream().delete_stream(stream)
            await bus.aclose()

        raw = await raw_nats(url, n, args.publishers, args.concurrency)
    finally:
        if server is not None:
            server.remove()

    print(f"{'bus':<28}{'publish msg/s':>16}{'end-to-end msg/s':>20}{'req p50 ms':>12}{'req p95 ms':>12}")
    for label, rates, latency in (("InMemoryBus", mem, mem_req), ("NatsBus (JetStream)", nat, nat_req)):
        print(f"{label:<28}{rates['publish_msgs_per_s']:>16,.0f}{rates['end_to_end_msgs_per_s']:>20,.0f}"
              f"{latency['request_p50_ms']:>12.3f}{latency['request_p95_ms']:>12.3f}")
    print(f"{'raw nats-py (baseline)':<28}{'':>16}{raw:>20,.0f}")
    results.update(
        {
            "nats_msgs_per_s": round(nat["end_to_end_msgs_per_s"], 1),
            "nats_publish_msgs_per_s": round(nat["publish_msgs_per_s"], 1),
            "nats_request_p50_ms": round(nat_req["request_p50_ms"], 3),
            "nats_request_p95_ms": round(nat_req["request_p95_ms"], 3),
            "memory_msgs_per_s": round(mem["end_to_end_msgs_per_s"], 1),
            "memory_publish_msgs_per_s": round(mem["publish_msgs_per_s"], 1),
            "memory_request_p50_ms": round(mem_req["request_p50_ms"], 3),
            "memory_request_p95_ms": round(mem_req["request_p95_ms"], 3),
            "raw_nats_msgs_per_s": round(raw, 1),
            "errors": 0,
        }
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run (< 60 s)")
    parser.add_argument(
        "--messages", type=int, default=0, help="messages per bus (default 20,000; 3,000 quick)"
    )
    parser.add_argument("--publishers", type=int, default=16, help="concurrent publishers")
    parser.add_argument("--concurrency", type=int, default=64, help="handlers per subscription")
    parser.add_argument("--nats-url", default=None, help="use this NATS server instead of starting one")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    results = asyncio.run(run(args))
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
