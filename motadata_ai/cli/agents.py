"""``motadata-ai serve``, ``motadata-ai query`` and ``motadata-ai agent run``: the unified query
over HTTP and from the command line.

All three obtain the SDK through ``motadata_ai.api.connect()`` and call ``ai.query(...)``, so
they run on the embedded default or on the services profile alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from typing import Any, Literal

import click

from motadata_ai.cli._group import SuggestingGroup, global_options, release_sigterm, run

QUERY_MODES = ("auto", "agent", "rag", "both")


@click.command(
    "serve",
    short_help="Serve the SDK over HTTP (FastAPI; OpenAPI at /docs).",
    epilog="""\b
Examples:
  motadata-ai serve
  motadata-ai serve --host 0.0.0.0 --port 8080 --prefix /ai
  motadata-ai serve --no-auth          # loopback only, no API keys (local trials)

\b
Variables: MOTADATA_PROFILE, MOTADATA_POSTGRES_DSN, MOTADATA_LLM_MODEL, OTEL_EXPORTER_OTLP_ENDPOINT.""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on."
)
@click.option("--prefix", default="", metavar="PATH", help="Path prefix of the routes, e.g. /ai.")
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve without API keys (loopback hosts only): the tenant comes from the "
    "X-Motadata-Tenant header or the body, else 'default'.",
)
@global_options()
@click.pass_context
def serve(ctx: click.Context, /, **_: Any) -> int:
    """Run the HTTP server until interrupted: the OpenAI-compatible /v1 routes, RAG, ML, POST
    /query, GET /health and /ready, OpenAPI at /openapi.json. Callers need a virtual key
    (``motadata-ai keys create``) unless ``--no-auth``."""
    return run(_serve, ctx)


_CONVERSATION_OPTIONS = (
    click.option("--user", default=None, metavar="USER", help="User id (stored with the turn)."),
    click.option("--conversation", default=None, metavar="ID", help="Conversation id (sessions)."),
)


def _conversation_options(function: Any) -> Any:
    for option in reversed(_CONVERSATION_OPTIONS):
        function = option(function)
    return function


@click.command(
    "query",
    short_help="The unified query: route to RAG, to an agent, or both.",
    epilog="""\b
Examples:
  motadata-ai query "Reset the MFA of user bob" --tenant acme
  motadata-ai query "What is the P1 resolution target?" --mode both --json""",
)
@click.argument("text", metavar="QUERY")
@click.option(
    "--mode",
    type=click.Choice(QUERY_MODES),
    default="auto",
    show_default=True,
    help="auto routes action requests to an agent and knowledge questions to RAG.",
)
@_conversation_options
@global_options()
@click.pass_context
def query(ctx: click.Context, /, **_: Any) -> int:
    """Answer QUERY through the unified query."""
    return run(lambda args: unified_query(args, args.mode), ctx)


@click.group("agent", cls=SuggestingGroup, short_help="Run agent tasks.")
@global_options()
def agent() -> None:
    """Agent tasks with the tenant's agent (knowledge_search and the plugins' tools)."""


@agent.command(
    "run",
    short_help="Run one task with the tenant's agent and print the result.",
    epilog="""\b
Example:
  motadata-ai agent run "Find the VPN troubleshooting steps" --tenant acme""",
)
@click.argument("text", metavar="TASK")
@_conversation_options
@global_options()
@click.pass_context
def agent_run(ctx: click.Context, /, **_: Any) -> int:
    """Run TASK (the unified query in mode agent)."""
    return run(lambda args: unified_query(args, "agent"), ctx)


def _uvicorn_server(config: Any) -> Any:
    """A uvicorn server that stops on SIGINT / SIGTERM as uvicorn's does, but keeps the signal in
    ``stopped_by`` where uvicorn re-raises it once ``serve()`` returns: re-raised there, SIGTERM's
    default action ended the process inside ``connect()``, before the buffered audit events were
    written and the embedded PostgreSQL was stopped (it kept running after every stop)."""
    import uvicorn

    class Server(uvicorn.Server):
        stopped_by: tuple[int, ...] = ()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                captured = getattr(self, "_captured_signals", [])
                self.stopped_by = tuple(int(s) for s in captured)
                captured.clear()  # nothing left for uvicorn to re-raise

    return Server(config)


async def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from motadata_ai.api import connect
    from motadata_ai.cli._serve_warm_up import warm_up_app
    from motadata_ai.cli._startup import status_printer
    from motadata_ai.domain.access import VirtualKeys
    from motadata_ai.domain.values.errors import ConfigurationError
    from motadata_ai.http import create_app

    no_auth = getattr(args, "no_auth", False)
    if no_auth and args.host not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigurationError(f"--no-auth serves loopback only, not {args.host}", setting="host")
    # connect() returns once the models are loaded: uvicorn starts (and /ready answers) after
    async with connect(status=status_printer(args)) as ai:
        keys = None if no_auth else VirtualKeys(ai.port("api_keys"), limits=ai.port("limits"))
        app = create_app(ai, keys=keys, prefix=args.prefix)
        await warm_up_app(app, ai, prefix=args.prefix)  # the first request as fast as the next
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="info")
        server = _uvicorn_server(config)
        release_sigterm()  # uvicorn stops on it, serving what is in flight; until now it cancels
        await server.serve()
    # everything is closed now; a signal's stop exits as a process that signal ended would (143)
    return 128 + server.stopped_by[-1] if server.stopped_by else 0


async def unified_query(args: argparse.Namespace, mode: Literal["auto", "agent", "rag", "both"]) -> int:
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
