"""Two parties exchange tasks over real NATS JetStream while the server crashes mid-conversation.

A coordinator sends tasks to a worker (``agent.{tenant}.worker.task``); the worker applies each
task's effect (recorded in a store that outlives the worker process) and publishes a result
(``agent.{tenant}.coordinator.result``) whose envelope id derives from the task id, so a
re-published result is de-duplicated by the server.

Mid-conversation the server is killed while a task is being handled; the worker process dies
too (its connection closed with the handler still running). The server restarts on the same
port and store, a new worker process attaches to the same durable consumer, and the coordinator
keeps sending (its publishes wait for the server). JetStream redelivers the task the dead
worker never acknowledged: the new worker recognises its envelope id and does not apply the
effect again. Nothing is lost and nothing is handled twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from motadata_ai.adapters.nats import NatsBus
from motadata_ai.domain.bus import agent_subject
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.testing.contracts.bus import eventually
from motadata_ai.testing.servers.nats import NatsServer

pytestmark = [pytest.mark.nats, pytest.mark.slow]

TENANT = "acme.eu"
TASKS = 60
HELD_TASK = 10
TASK_SUBJECT = agent_subject(TENANT, "worker")
RESULT_SUBJECT = agent_subject(TENANT, "coordinator", "result")


async def connect(url: str) -> NatsBus:
    return await NatsBus.connect(
        url, ack_wait=3.0, poll_interval=0.2, publish_timeout=30.0, drain_timeout=0.5
    )


async def test_task_exchange_survives_a_server_crash_and_a_worker_restart(
    nats_server_factory: Callable[[], NatsServer],
) -> None:
    server = nats_server_factory()
    coordinator = await connect(server.url)

    # The worker's durable state (its database): effects applied, by task envelope id.
    applied: dict[str, int] = {}
    effects: list[int] = []
    deliveries: Counter[str] = Counter()
    holding = asyncio.Event()

    def make_worker(bus: NatsBus) -> Callable[[Envelope], Awaitable[Envelope | None]]:
        async def work(task: Envelope) -> Envelope | None:
            deliveries[task.id] += 1
            if task.type == "ping":
                return Envelope(tenant_id=task.tenant_id, type="pong")
            n = task.payload["n"]
            if task.id not in applied:  # idempotent by envelope id
                applied[task.id] = n
                effects.append(n)
            if n == HELD_TASK and deliveries[task.id] == 1:
                holding.set()
                await asyncio.Event().wait()  # a long job: the process dies before it ends
            await asyncio.sleep(0.01)
            await bus.publish(
                RESULT_SUBJECT,
                Envelope(
                    id=f"{task.id}-result", tenant_id=task.tenant_id, type="result",
                    payload={"n": n, "square": n * n}, correlation_id=task.id,
                ),
            )
            return None

        return work

    results: dict[int, Envelope] = {}  # the coordinator's state, updated once per result
    merged: list[int] = []

    async def collect(result: Envelope) -> None:
        n = result.payload["n"]
        if n not in results:
            results[n] = result
            merged.append(n)

    worker = await connect(server.url)
    await worker.subscribe(TASK_SUBJECT, make_worker(worker), durable="worker", concurrency=4)
    await coordinator.subscribe(RESULT_SUBJECT, collect, durable="coordinator")

    async def send(n: int) -> None:
        await coordinator.publish(TASK_SUBJECT, Envelope(tenant_id=TENANT, type="task", payload={"n": n}))

    for n in range(TASKS // 3):
        await send(n)
    await holding.wait()
    await eventually(lambda: len(results) >= 5, what="first results")

    server.kill()  # the server crashes mid-conversation...
    await worker.aclose()  # ...and so does the worker, task HELD_TASK still unacknowledged

    async def restart_soon() -> None:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)

    restart = asyncio.create_task(restart_soon())
    for n in range(TASKS // 3, TASKS):
        await send(n)  # the first of these waits for the server to come back
    await restart

    worker = await connect(server.url)  # a new worker process on the same durable consumer
    await worker.subscribe(TASK_SUBJECT, make_worker(worker), durable="worker", concurrency=4)

    await eventually(lambda: len(results) == TASKS, within=60, what="every result")
    reply = await coordinator.request(TASK_SUBJECT, Envelope(tenant_id=TENANT, type="ping"), timeout=10)
    assert reply.type == "pong"

    await coordinator.aclose()
    await worker.aclose()

    held_id = next(task_id for task_id, n in applied.items() if n == HELD_TASK)
    assert deliveries[held_id] == 2  # JetStream redelivered the unacknowledged task...
    assert sorted(effects) == list(range(TASKS))  # ...and its effect was applied once
    assert sorted(results) == list(range(TASKS))  # nothing lost
    assert sorted(merged) == list(range(TASKS))  # no result merged twice
    assert all(r.payload["square"] == n * n for n, r in results.items())
    assert all(r.tenant_id == TENANT and r.correlation_id for r in results.values())
