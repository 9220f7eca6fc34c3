"""Two concurrent approvals of one paused task run the approved tool once.

A task pauses on a tool that requires approval; then two ``resume(task_id, approve=True)`` race:
on one Agent object, on two Agent objects over one PostgreSQL memory store with a connection
pool each, and in two separate processes over one PostgreSQL database. The tool body holds the
winner inside the tool until the other resume has answered, so both resumes are in flight at
once. Invariants: the tool body ran exactly once; one resume completed, the other raised
``TaskAlreadyResumed`` having run nothing; the checkpoint is gone afterwards.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from motadata_ai import TaskAlreadyResumed, TaskNotFound
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.memory_store import PostgresMemoryStore
from motadata_ai.domain.agents import Agent, tool
from motadata_ai.domain.values.agents import AgentTask
from motadata_ai.ports.memory import MemoryStorePort
from motadata_ai.testing.servers.postgres import isolated_database

from .resume_process import AGENT_ID, TENANT, make_gateway

pytestmark = [pytest.mark.faults]

ROUNDS = 3
OVERLAP_WAIT = 5.0  # seconds the winner waits in the tool for the other resume to answer
REPOSITORY = Path(__file__).resolve().parents[2]


class Approvals:
    """The approval-gated tool, counting how often its body runs."""

    def __init__(self) -> None:
        self.executions: list[str] = []
        self.release = asyncio.Event()

        @tool(requires_approval=True)
        async def restart_server(host: str) -> str:
            """Restart a server."""
            self.executions.append(host)
            # Hold the winner here until the other resume has answered (or OVERLAP_WAIT passed).
            await self.release.wait()
            return f"{host} restarted"

        self.tool = restart_server

    def agent(self, memory: MemoryStorePort | None) -> Agent:
        return Agent(
            agent_id=AGENT_ID,
            name="Ops",
            gateway=make_gateway(),
            tenant=TENANT,
            tools=[self.tool],
            memory=memory,
        )


async def race(first: Agent, second: Agent, task_id: str, approvals: Approvals) -> list[object]:
    """Two resumes of ``task_id`` at once; the tool is released when one of them has answered."""
    resumes = [asyncio.create_task(agent.resume(task_id, approve=True)) for agent in (first, second)]
    await asyncio.wait(resumes, timeout=OVERLAP_WAIT, return_when=asyncio.FIRST_COMPLETED)
    approvals.release.set()
    return list(await asyncio.gather(*resumes, return_exceptions=True))


async def check_rounds(make_agents: Callable[[Approvals], tuple[Agent, Agent]]) -> None:
    for _ in range(ROUNDS):
        approvals = Approvals()
        first, second = make_agents(approvals)
        paused = await first.execute_task("restart web-1")
        assert paused.status == "awaiting_approval"

        outcomes = await race(first, second, paused.id, approvals)

        assert approvals.executions == ["web-1"]  # the tool body ran once
        completed = [o for o in outcomes if isinstance(o, AgentTask)]
        refused = [o for o in outcomes if isinstance(o, TaskAlreadyResumed)]
        assert len(completed) == 1 and len(refused) == 1, outcomes
        assert completed[0].status == "completed" and completed[0].answer == "web-1 was restarted."
        assert [c.status for c in completed[0].tool_calls] == ["ok"]
        assert refused[0].task_id == paused.id and refused[0].tenant_id == "acme"
        with pytest.raises(TaskNotFound):  # the run ended: nothing is left to resume
            await second.resume(paused.id, approve=True)
        assert approvals.executions == ["web-1"]


async def test_two_resumes_on_one_agent_without_a_store_run_the_tool_once() -> None:
    def agents(approvals: Approvals) -> tuple[Agent, Agent]:
        agent = approvals.agent(None)
        return agent, agent

    await check_rounds(agents)


async def test_two_resumes_on_one_agent_over_the_in_memory_store_run_the_tool_once() -> None:
    def agents(approvals: Approvals) -> tuple[Agent, Agent]:
        agent = approvals.agent(InMemoryMemoryStore())
        return agent, agent

    await check_rounds(agents)


@pytest.fixture
async def two_pools(postgres_dsn: str) -> AsyncIterator[tuple[PostgresDatabase, PostgresDatabase]]:
    """Two connection pools on one fresh schema, as two processes over one database would have."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(isolated_database(postgres_dsn))
        async with first.pool.acquire() as conn:
            schema = await conn.fetchval("SELECT current_schema()")
        second = await PostgresDatabase.connect(
            postgres_dsn, min_size=1, max_size=4, server_settings={"search_path": f"{schema},public"}
        )
        stack.push_async_callback(second.close)
        yield first, second


async def warmed(store: PostgresMemoryStore) -> PostgresMemoryStore:
    """``store`` with its tables made and several pooled connections open, so that concurrent
    calls really overlap instead of queueing behind connection set-up."""
    await store.setup()
    await asyncio.gather(*(store.load_checkpoint("acme", "warm-up") for _ in range(4)))
    return store


@pytest.mark.postgres
async def test_two_resumes_on_one_agent_over_postgres_run_the_tool_once(
    two_pools: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    store = await warmed(PostgresMemoryStore(two_pools[0]))

    def agents(approvals: Approvals) -> tuple[Agent, Agent]:
        agent = approvals.agent(store)
        return agent, agent

    await check_rounds(agents)


@pytest.mark.postgres
async def test_two_agents_over_one_postgres_store_run_the_tool_once(
    two_pools: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    first_store = await warmed(PostgresMemoryStore(two_pools[0]))
    second_store = await warmed(PostgresMemoryStore(two_pools[1]))

    def agents(approvals: Approvals) -> tuple[Agent, Agent]:
        return approvals.agent(first_store), approvals.agent(second_store)

    await check_rounds(agents)


@pytest.mark.postgres
async def test_a_resume_whose_process_died_after_the_claim_is_not_run_again(
    two_pools: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    approvals = Approvals()
    approvals.release.set()
    first_store = PostgresMemoryStore(two_pools[0])
    paused = await approvals.agent(first_store).execute_task("restart web-1")
    # What a process that claimed the checkpoint and then died (kill -9) leaves behind:
    claim = await first_store.claim_checkpoint(TENANT, f"agent:{AGENT_ID}:{paused.id}")
    assert claim.outcome == "claimed"

    survivor = approvals.agent(PostgresMemoryStore(two_pools[1]))
    with pytest.raises(TaskAlreadyResumed):
        await survivor.resume(paused.id, approve=True)
    assert approvals.executions == []
    left = await first_store.load_checkpoint(TENANT, f"agent:{AGENT_ID}:{paused.id}")
    assert left is not None and left.status == "resumed" and left.claimed_at is not None


@pytest.mark.postgres
async def test_two_processes_resuming_one_task_run_the_tool_once(
    two_pools: tuple[PostgresDatabase, PostgresDatabase], postgres_dsn: str, tmp_path: Path
) -> None:
    approvals = Approvals()
    store = PostgresMemoryStore(two_pools[0])
    paused = await approvals.agent(store).execute_task("restart web-1")
    async with two_pools[0].pool.acquire() as conn:
        schema = await conn.fetchval("SELECT current_schema()")
    names = ("first", "second")
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.faults.resume_process",
            postgres_dsn,
            schema,
            paused.id,
            str(tmp_path),
            name,
            cwd=REPOSITORY,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in names
    ]
    try:
        while not all((tmp_path / f"ready-{name}").exists() for name in names):
            assert all(child.returncode is None for child in children), "a resume process died"
            await asyncio.sleep(0.01)
        (tmp_path / "go").touch()
        waits = [asyncio.create_task(child.communicate()) for child in children]
        await asyncio.wait(waits, timeout=OVERLAP_WAIT, return_when=asyncio.FIRST_COMPLETED)
        (tmp_path / "release").touch()
        outputs = await asyncio.wait_for(asyncio.gather(*waits), 60)
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr.decode()[-2000:]
    outcomes = sorted(json.loads(stdout)["outcome"] for stdout, _ in outputs)
    assert outcomes == ["already_resumed", "completed"]
    assert len((tmp_path / "executions").read_text().splitlines()) == 1  # the tool body ran once
    assert approvals.executions == []  # and not in this process
    assert await store.load_checkpoint(TENANT, f"agent:{AGENT_ID}:{paused.id}") is None
