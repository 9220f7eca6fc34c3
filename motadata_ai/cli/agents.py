"""``motadata-ai serve``, ``motadata-ai query`` and ``motadata-ai agent run``: the unified query
over HTTP and from the command line.

All three obtain the SDK through ``motadata_ai.api.connect()`` and call ``ai.query(...)``, so
they run on the embedded default or on the services profile alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

QUERY_MODES = ("auto", "agent", "rag", "both")


def register(subparsers: Any) -> None:
    """Add the ``serve``, ``query`` and ``agent`` sub-commands."""
    serve = subparsers.add_parser(
        "serve",
        help="serve the unified query over HTTP (FastAPI; OpenAPI schema at /docs)",
        description="Run the HTTP router: POST /query, GET /health, OpenAPI at /openapi.json.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--prefix", default="", help="path prefix of the routes, e.g. /ai")
    serve.set_defaults(func=run_serve)

    query = subparsers.add_parser(
        "query",
        help="the unified query: route to RAG, to an agent, or both",
        description="auto routes action requests to an agent and knowledge questions to RAG.",
    )
    query.add_argument("text", metavar="QUERY", help="the question or request, quoted")
    _common(query)
    query.add_argument("--mode", choices=QUERY_MODES, default="auto", help="auto (default), agent, rag, both")
    query.set_defaults(func=run_query)

    agent = subparsers.add_parser("agent", help="run agent tasks")
    agent_commands = agent.add_subparsers(dest="agent_command", metavar="ACTION")
    run = agent_commands.add_parser("run", help="run one task with the tenant's agent and print the result")
    run.add_argument("text", metavar="TASK", help="the task, quoted")
    _common(run)
    run.set_defaults(func=run_agent, mode="agent")
    agent.set_defaults(func=lambda args: (agent.print_help(), 2)[1])


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", default="default", help="tenant id (default: default)")
    parser.add_argument("--user", default=None, help="user id")
    parser.add_argument("--conversation", default=None, help="conversation id (sessions)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from motadata_ai.api import connect
    from motadata_ai.cli._serve_warm_up import warm_up_app
    from motadata_ai.cli._startup import status_printer
    from motadata_ai.http import create_app

    # connect() returns once the models are loaded: uvicorn starts (and /ready answers) after
    async with connect(status=status_printer(args)) as ai:
        app = create_app(ai, prefix=args.prefix)
        await warm_up_app(app, ai, prefix=args.prefix)  # the first request as fast as the next
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="info")
        await uvicorn.Server(config).serve()
    return 0


def run_query(args: argparse.Namespace) -> int:
    """Answer one unified query."""
    return asyncio.run(unified_query(args, args.mode))


def run_agent(args: argparse.Namespace) -> int:
    """Run one agent task (the unified query in mode ``agent``)."""
    return asyncio.run(unified_query(args, "agent"))


async def unified_query(args: argparse.Namespace, mode: str) -> int:
    """Print the unified query's answer for ``args.text`` (``args.tenant``, ``args.user`` ...)."""
    from motadata_ai.api import connect
    from motadata_ai.cli._startup import status_printer

    async with connect(status=status_printer(args)) as ai:
        response = await ai.query(
            args.text, tenant_id=args.tenant, user_id=args.user, conversation_id=args.conversation, mode=mode
        )
    if args.json:
        print(json.dumps(response.model_dump(mode="json")))
        return 0
    print(response.answer)
    print(
        f"\n[{response.mode}: {response.route_reason}; confidence {response.confidence:.2f}; "
        f"{response.total_tokens} tokens; ${response.cost_usd:.6f}]"
    )
    for number, source in enumerate(response.sources, start=1):
        print(f"  [{number}] {source.title or source.document_id} (score {source.score:.3f})")
    if response.agent is not None:
        for call in response.agent.tool_calls:
            print(f"  tool {call.name}({call.arguments}) -> {call.status}")
        if response.agent.status == "awaiting_approval":
            print(f"  awaiting approval: task {response.agent.id}")
    return 0 if not response.errors else 1
