"""One process that resumes a paused task over a PostgreSQL memory store (for the cross-process
resume race in ``test_concurrent_resume.py``), and the scripted model both sides share.

Run as ``python -m tests.faults.resume_process DSN SCHEMA TASK_ID SYNC_DIR NAME``: it connects,
writes ``ready-NAME`` in ``SYNC_DIR``, waits for ``go``, resumes the task with approval and prints
its outcome as JSON. Its tool body appends ``NAME`` to ``SYNC_DIR/executions`` and then waits for
``release``, so the parent holds the winner inside the tool while the other process answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from motadata_ai import TaskAlreadyResumed, TaskNotFound
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.memory_store import PostgresMemoryStore
from motadata_ai.domain.agents import Agent, tool
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.models import tool_call

AGENT_ID = "ops"
TENANT = "acme"
FILE_WAIT = 20.0  # seconds a process waits for a file from the parent before giving up


def respond(request: ChatRequest) -> Message | str:
    """Ask for the approval-gated tool until a tool result is in the prompt, then answer."""
    if any(m.role == "tool" for m in request.messages):
        return "web-1 was restarted."
    return tool_call("restart_server", {"host": "web-1"})


def make_gateway() -> Gateway:
    """A gateway over the scripted model: no cache, no limits, no retries."""
    return Gateway(
        llm=FunctionLLM(respond),
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


def wait_for_file(path: Path) -> None:
    """Block until ``path`` exists (at most ``FILE_WAIT`` seconds); run it off the event loop."""
    deadline = time.monotonic() + FILE_WAIT
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {FILE_WAIT} s")
        time.sleep(0.01)


async def resume_once(dsn: str, schema: str, task_id: str, sync: Path, name: str) -> str:
    """Resume ``task_id`` once in this process; return ``completed``, ``already_resumed`` or ``not_found``."""
    database = await PostgresDatabase.connect(
        dsn, min_size=2, max_size=2, server_settings={"search_path": f"{schema},public"}
    )
    try:
        store = PostgresMemoryStore(database)
        await store.setup()

        @tool(requires_approval=True)
        def restart_server(host: str) -> str:  # a sync tool: the agent runs it in a thread
            """Restart a server."""
            with open(sync / "executions", "a") as executions:
                executions.write(f"{name}\n")
            wait_for_file(sync / "release")
            return f"{host} restarted"

        agent = Agent(
            agent_id=AGENT_ID,
            name="Ops",
            gateway=make_gateway(),
            tenant=TENANT,
            tools=[restart_server],
            memory=store,
        )
        await asyncio.to_thread((sync / f"ready-{name}").touch)
        await asyncio.to_thread(wait_for_file, sync / "go")
        try:
            task = await agent.resume(task_id, approve=True)
        except TaskAlreadyResumed:
            return "already_resumed"
        except TaskNotFound:
            return "not_found"
        return task.status
    finally:
        await database.close()


def main() -> None:
    """The command line: ``DSN SCHEMA TASK_ID SYNC_DIR NAME``."""
    dsn, schema, task_id, sync_dir, name = sys.argv[1:6]
    outcome = asyncio.run(resume_once(dsn, schema, task_id, Path(sync_dir), name))
    print(json.dumps({"name": name, "outcome": outcome}))


if __name__ == "__main__":
    main()
