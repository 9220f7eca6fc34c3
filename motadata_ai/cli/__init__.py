"""The ``motadata-ai`` command line, on click.

The root group loads each command from its own module on first use (:data:`COMMANDS`: adding a
command module is one line there), so ``--help`` and ``--version`` import nothing heavy. The
global options ``--tenant``, ``--json`` and ``-v`` are accepted anywhere on the line; a mistyped
command gets the closest names; each failure is one line on standard error with a distinct exit
code (:mod:`motadata_ai.cli._errors`, ``docs/cli.md``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from motadata_ai.cli._errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    describe,
    exit_code_of,
)
from motadata_ai.cli._group import GlobalOptions, SuggestingGroup, global_options

COMMANDS: dict[str, str] = {
    "ingest": "motadata_ai.cli.rag:ingest",
    "ask": "motadata_ai.cli.rag:ask",
    "query": "motadata_ai.cli.agents:query",
    "agent": "motadata_ai.cli.agents:agent",
    "serve": "motadata_ai.cli.agents:serve",
    "ml": "motadata_ai.cli.ml:ml",
    "health": "motadata_ai.cli.health:health",
    "keys": "motadata_ai.cli.keys:keys",
    "privacy": "motadata_ai.cli.privacy:privacy",
    "maintenance": "motadata_ai.cli.privacy:maintenance",
    "cache": "motadata_ai.cli.cache:cache",
    "worker": "motadata_ai.cli.worker:worker",
    "usage": "motadata_ai.cli.usage:usage",
    "budgets": "motadata_ai.cli.budgets:budgets",
}
"""Command name -> ``"module:attribute"`` of its click command or group, imported lazily."""

_EPILOG = """\b
Examples:
  motadata-ai ingest examples/knowledge_base
  motadata-ai ask "How do I reset my password?" --json
  motadata-ai --tenant acme ask "What is the P1 resolution target?" --top-k 3
  motadata-ai ml list --tenant acme
  motadata-ai serve --port 8000

\b
Settings come from MOTADATA_* variables (a bad one is reported in one line, exit code 3;
an unknown one is warned about), for example:
  MOTADATA_PROFILE        local (embedded, default), services, memory
  MOTADATA_DATA_DIR       embedded database and artifacts
  MOTADATA_POSTGRES_DSN   PostgreSQL + pgvector (services profile)
  MOTADATA_REDIS_URL      Redis/Valkey for cache, limits and breaker state
  MOTADATA_NATS_URL       NATS JetStream for the bus
  MOTADATA_LLM_MODEL      default chat model (any LiteLLM name, e.g. openai/gpt-4o-mini)
  MOTADATA_LLM_API_KEY    the provider's API key
  MOTADATA_TOP_K          passages retrieved (default 5)
  MOTADATA_TENANT         default for --tenant
The full list is in the README's configuration table.

\b
Exit codes: 0 success, 1 runtime failure, 2 usage, 3 configuration,
4 ask found no answer, 130 interrupted.
"""


def _version() -> str:
    from motadata_ai import __version__

    return __version__


def _warn_unknown_variables() -> None:
    from motadata_ai.cli._env import unknown_variables

    for name, closest in unknown_variables(also_known=("MOTADATA_TENANT",)):
        hint = f" (did you mean {closest}?)" if closest else ""
        click.echo(f"warning: {name} is not a setting of the SDK and is ignored{hint}", err=True)


@click.group(
    cls=SuggestingGroup,
    lazy=COMMANDS,
    epilog=_EPILOG,
    help="Motadata AI SDK: ingest knowledge, ask questions, run agents, train and serve models.",
)
@click.version_option(_version(), "-V", "--version", prog_name="motadata-ai", message="%(prog)s %(version)s")
@global_options(root=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The root group: sets up logging (the ``log_*`` settings; ``-v`` means INFO) and checks the
    environment once a command is about to run."""
    _import_dependency_injector_without_fastapi()
    from motadata_ai.adapters.otel.logs import configure_logging

    options = ctx.ensure_object(GlobalOptions)
    configure_logging(level="INFO" if options.verbose else None)
    _warn_unknown_variables()


def _pending(ctx: click.Context) -> list[str]:
    """The arguments a group's context left for its sub-command."""
    return [*getattr(ctx, "_protected_args", ()), *ctx.args]


def parse(argv: Sequence[str]) -> tuple[click.Command, click.Context]:
    """Parse ``argv`` down to its command without running it: the command and its context
    (:func:`motadata_ai.cli._group.arguments` of it is what the command's body receives)."""
    ctx = cli.make_context("motadata-ai", list(argv), obj=GlobalOptions())
    command: click.Command = cli
    while isinstance(command, click.Group):
        name, sub, rest = command.resolve_command(ctx, _pending(ctx))
        if sub is None or name is None:  # pragma: no cover - resolve_command fails first
            raise click.UsageError(f"no command in {list(argv)}")
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return command, ctx


def _import_dependency_injector_without_fastapi() -> None:
    """Import ``dependency_injector`` with FastAPI hidden, in this CLI process only.

    Its wiring module imports FastAPI, when installed, to recognise ``Depends`` markers (close to
    a second of a cold start here). The SDK wires nothing, so the CLI hides FastAPI from that one
    import; ``serve`` still imports FastAPI itself. Library users are not touched: an application
    that wires FastAPI routes with dependency-injector imports it normally. It runs in the root
    group's callback, before any command's body, and not for ``--help`` or ``--version``, which
    need no container.
    """
    if "dependency_injector" in sys.modules or "fastapi" in sys.modules:
        return
    sys.modules["fastapi"] = None  # type: ignore[assignment]  # "import fastapi" raises ImportError
    try:
        import dependency_injector.containers
        import dependency_injector.providers  # noqa: F401
    finally:
        del sys.modules["fastapi"]


def _fail(error: BaseException) -> int:
    click.echo(f"error: {describe(error)}", err=True)
    return exit_code_of(error)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (see :mod:`motadata_ai.cli._errors`)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        result: Any = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="motadata-ai",
            standalone_mode=False,
            obj=GlobalOptions(),
        )
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as error:
        error.show()
        return int(error.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    except Exception as error:
        # imported here: ``--help`` and ``--version`` need none of the SDK's modules
        from motadata_ai.domain.values.errors import MotadataError

        if isinstance(error, MotadataError):
            return _fail(error)
        raise
    if result is None:
        return EXIT_OK
    return int(result)


__all__ = ["COMMANDS", "EXIT_USAGE", "cli", "main", "parse"]
