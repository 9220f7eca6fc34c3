"""kill -9 of the NATS node that leads a replicated stream, with messages in flight.

A 3-node NATS cluster holds the bus stream with 3 replicas. A worker consumes a durable work
queue (some handlers still running when the node dies); a publisher keeps publishing. The node
that leads the stream is killed with SIGKILL and stays down: the two others elect a new leader,
and both clients, connected to the whole server list, move to a surviving node by themselves.
Both processes live throughout, so this is one worker's life. Invariants, not timings:

* 0 acknowledged messages lost: every envelope whose publish returned is handled;
* none handled twice: each envelope's handler ran exactly once, although messages whose ack was
  lost with the leader are delivered again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from motadata_ai.adapters.nats import NatsBus
from motadata_ai.domain.bus.delivery import consumer_name
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.testing.contracts.bus import eventually
from motadata_ai.testing.servers.nats_cluster import NatsCluster

pytestmark = [pytest.mark.faults, pytest.mark.nats]

STREAM = "LEADER_KILL"
SUBJECT = "jobs.acme.work"
BEFORE = 60
DURING = 60
ACK_WAIT = 3.0


async def connect(url: str) -> NatsBus:
    return await NatsBus.connect(
        url, stream=STREAM, subjects=("jobs.>",), replicas=3, ack_wait=ACK_WAIT, poll_interval=0.2,
        publish_timeout=60.0, request_timeout=2.0, drain_timeout=0.5,
    )  # fmt: skip


async def test_killing_the_stream_leader_loses_no_acknowledged_message_and_handles_none_twice(
    nats_cluster_factory: Callable[[], NatsCluster],
) -> None:
    cluster = nats_cluster_factory()
    worker, publisher = await connect(cluster.url), await connect(cluster.url)
    handled: Counter[str] = Counter()
    release = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        handled[envelope.id] += 1
        if envelope.payload["n"] % 10 == 0:  # a slow job, still running when the leader dies
            await release.wait()

    acknowledged: list[str] = []

    async def publish(n: int) -> None:
        envelope = Envelope(tenant_id="acme", type="job", payload={"n": n})
        await publisher.publish(SUBJECT, envelope)
        acknowledged.append(envelope.id)

    subscription = await worker.subscribe(SUBJECT, handle, durable="workers", concurrency=8)
    try:
        for n in range(BEFORE):
            await publish(n)
        await eventually(lambda: len(handled) >= BEFORE // 2, what="jobs handled before the kill")
        info = await publisher.client.jetstream().stream_info(STREAM)
        assert info.cluster is not None and info.cluster.leader is not None
        leader = cluster.node_named(info.cluster.leader)

        leader.kill()  # SIGKILL of the stream leader, jobs in handlers and in the stream

        await asyncio.gather(*(publish(n) for n in range(BEFORE, BEFORE + DURING)))
        await asyncio.sleep(ACK_WAIT + 1.0)  # slow jobs outlast ack_wait across the new election
        release.set()
        await eventually(
            lambda: set(acknowledged) <= set(handled), within=60, what="every acknowledged job handled"
        )
        await settled(worker, consumer_name("workers", SUBJECT))
    finally:
        release.set()
        await subscription.stop()
        await worker.aclose()
        await publisher.aclose()

    assert len(acknowledged) == BEFORE + DURING
    assert set(acknowledged) <= set(handled)  # 0 acknowledged messages lost
    assert {i: c for i, c in handled.items() if c != 1} == {}  # none handled twice


async def settled(bus: NatsBus, consumer: str, *, within: float = 60.0) -> None:
    """Wait until ``consumer`` has nothing to deliver and nothing awaiting an ack (server state)."""
    js = bus.client.jetstream()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            info = await js.consumer_info(bus.stream, consumer)
        except Exception:  # the consumer's new leader is still being elected
            info = None
        if info is not None and info.num_pending == 0 and info.num_ack_pending == 0:
            return
        if loop.time() > deadline:
            raise AssertionError(f"consumer {consumer} did not settle within {within} s: {info}")
        await asyncio.sleep(0.1)
