"""kill -9 of the NATS server while agent tasks are in flight over the NatsBus.

A worker agent serves its tasks on the bus (:class:`AgentServer`, a durable consumer); a client
sends it tasks, some as requests through :class:`RemoteAgent` (awaiting the result), some as
plain published task messages. With tasks inside the worker's tool, tasks waiting in the stream
and tasks still being sent, the server is killed with SIGKILL; more tasks are sent during the
outage; the server restarts on the same port with the same JetStream store. Both processes keep
running throughout (each connection reconnects by itself), so this is one worker's life.

Invariants: every task is handled (every request gets its completed result: 0 lost) and each
task's agent run and tool body happen exactly once (0 handled twice). ``test_nats_restart.py``
covers the other case, a worker that dies with the server and a new one taking over.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.nats import NatsBus
from motadata_ai.domain.agents import Agent, AgentServer, RemoteAgent, tool
from motadata_ai.domain.agents.delegation import TASK_MESSAGE, TaskRequest
from motadata_ai.domain.bus.delivery import consumer_name
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.values.agents import AgentTask
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.contracts.bus import eventually
from motadata_ai.testing.models import tool_call
from motadata_ai.testing.servers.nats import NatsServer

pytestmark = [pytest.mark.faults, pytest.mark.nats]

TENANT = "acme"
AGENT = "worker"
BEFORE = 12  # requests sent before the crash
HELD = (0, 1, 2)  # their tool bodies run from before the crash until after the restart
DURING = 8  # requests sent while the server is down
PUBLISHED = 10  # fire-and-forget task messages, half before the crash, half during it
ACK_WAIT = 3.0  # seconds the server waits for an ack before it redelivers
TASK = re.compile(r"work (\d+)")


async def settled(bus: NatsBus, consumer: str, *, within: float = 60.0) -> None:
    """Wait until ``consumer`` has nothing left to deliver and nothing awaiting an ack, so every
    delivery that will ever happen has happened (a state the server reports, not a sleep)."""
    js = bus.client.jetstream()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        info = await js.consumer_info(bus.stream, consumer)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        if loop.time() > deadline:
            raise AssertionError(f"consumer {consumer} did not settle within {within} s: {info}")
        await asyncio.sleep(0.1)


async def connect(url: str) -> NatsBus:
    return await NatsBus.connect(
        url, ack_wait=ACK_WAIT, poll_interval=0.2, publish_timeout=60.0, drain_timeout=0.5
    )


class Worker:
    """The worker agent's model and tool, counting agent runs and tool-body executions per task."""

    def __init__(self) -> None:
        self.runs: Counter[int] = Counter()
        self.executions: Counter[int] = Counter()
        self.entered: set[int] = set()
        self.release_held = asyncio.Event()

    def respond(self, request: ChatRequest) -> Message | str:
        task = next(m.content or "" for m in reversed(request.messages) if m.role == "user")
        match = TASK.search(task)
        assert match is not None, task
        n = int(match.group(1))
        if not any(m.role == "tool" for m in request.messages):
            self.runs[n] += 1
            return tool_call("do_work", {"n": n})
        return f"done {n}"

    def agent(self, bus: NatsBus) -> Agent:
        @tool
        async def do_work(n: int) -> str:
            """Apply the effect of task ``n``."""
            self.executions[n] += 1
            self.entered.add(n)
            if n in HELD:  # a long job that spans the crash and the restart
                await self.release_held.wait()
            return f"effect {n} applied"

        gateway = Gateway(
            llm=FunctionLLM(self.respond),
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
        return Agent(
            agent_id=AGENT,
            name=AGENT,
            gateway=gateway,
            tenant=TENANT,
            tools=[do_work],
            bus=bus,
            tool_timeout=120.0,
            timeout=180.0,
        )


async def test_agent_tasks_survive_a_kill_9_of_nats_with_nothing_lost_or_handled_twice(
    nats_server_factory: Callable[[], NatsServer],
) -> None:
    server = nats_server_factory()
    worker_bus, client_bus = await connect(server.url), await connect(server.url)
    worker = Worker()
    agent_server = await AgentServer(worker.agent(worker_bus), worker_bus).start(concurrency=8)
    remote = RemoteAgent(bus=client_bus, tenant=TENANT, agent_id=AGENT, timeout=120.0)

    async def publish_task(n: int) -> None:
        payload = TaskRequest(task=f"work {n}").model_dump(mode="json")
        await client_bus.publish(
            agent_server.task_subject(), Envelope(tenant_id=TENANT, type=TASK_MESSAGE, payload=payload)
        )

    try:
        requests = [asyncio.create_task(remote.execute_task(f"work {n}")) for n in range(BEFORE)]
        published = list(range(100, 100 + PUBLISHED))
        for n in published[: PUBLISHED // 2]:
            await publish_task(n)
        await eventually(lambda: set(HELD) <= worker.entered, within=30, what="the held tasks in the tool")

        server.kill()  # SIGKILL: the server dies with tasks in the tool and in the stream

        requests += [
            asyncio.create_task(remote.execute_task(f"work {n}")) for n in range(BEFORE, BEFORE + DURING)
        ]
        sending = asyncio.gather(*(publish_task(n) for n in published[PUBLISHED // 2 :]))
        await asyncio.sleep(0.5)  # the outage lasts a moment: publishes and fetches fail meanwhile
        await asyncio.to_thread(server.start)  # same port, same JetStream store
        await sending

        everything = [*range(BEFORE + DURING), *published]
        others = [n for n in everything if n not in HELD]
        await asyncio.wait_for(asyncio.gather(*(r for n, r in enumerate(requests) if n not in HELD)), 120)
        await eventually(lambda: all(worker.executions[n] >= 1 for n in others), within=60, what="the others")
        # The long jobs outlast ack_wait after the restart too: only the adapter's in-progress
        # signals keep the server from redelivering them, and a redelivery must not run them again.
        await asyncio.sleep(ACK_WAIT + 1.0)
        worker.release_held.set()
        results: list[AgentTask] = await asyncio.wait_for(asyncio.gather(*requests), 120)
        await eventually(
            lambda: all(worker.executions[n] >= 1 for n in everything), within=60, what="every task handled"
        )
        # Redeliveries of what the crash left unacknowledged (after ack_wait) may not run a task
        # again: wait until the consumer has delivered and settled every message of the stream.
        await settled(worker_bus, consumer_name(f"agent-{AGENT}", agent_server.subject))
    finally:
        worker.release_held.set()
        await agent_server.stop()
        await worker_bus.aclose()
        await client_bus.aclose()

    assert [r.status for r in results] == ["completed"] * len(results)  # 0 lost
    assert [r.answer for r in results] == [f"done {n}" for n in range(BEFORE + DURING)]
    assert {n: c for n, c in worker.executions.items() if c != 1} == {}  # 0 handled twice
    assert {n: c for n, c in worker.runs.items() if c != 1} == {}
    assert sorted(worker.executions) == sorted(everything)
    assert agent_server.handled == len(everything)
