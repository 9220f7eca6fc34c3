"""The click pieces every command shares: the global options (accepted anywhere on the line), a
group that loads its commands lazily and suggests the closest name for a typo, and the runner of
async command bodies."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass
class GlobalOptions:
    """``--tenant``, ``--json`` and ``-v``: one object for the whole command line, whichever
    level of it (``motadata-ai --json ml list`` or ``motadata-ai ml list --json``) set them."""

    tenant: str = "default"
    json: bool = False
    verbose: bool = False
    tenant_given: bool = False


def _store(field: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or value is False:  # not given at this level: another level may set it
            return value
        options = ctx.ensure_object(GlobalOptions)
        setattr(options, field, value)
        if field == "tenant":
            options.tenant_given = True
        if field == "verbose":
            logging.getLogger().setLevel(logging.INFO)
        return value

    return callback


def global_options(*, root: bool = False) -> Callable[[F], F]:
    """Add the global options to a group or command (``root``: the top level, which also reads
    ``MOTADATA_TENANT``)."""

    def decorate(function: F) -> F:
        function = click.option(
            "--tenant",
            metavar="TENANT",
            default=None,
            envvar="MOTADATA_TENANT" if root else None,
            show_envvar=root,
            expose_value=False,
            callback=_store("tenant"),
            help="Tenant id every call is scoped to (default: default).",
        )(function)
        function = click.option(
            "--json",
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_store("json"),
            help="Print JSON (one object per result) instead of text; start-up messages are silenced.",
        )(function)
        function = click.option(
            "-v",
            "--verbose",
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_store("verbose"),
            help="Log what the SDK does (INFO level) on standard error.",
        )(function)
        return function

    return decorate


def with_app(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(ai)`` on a fresh event loop against the connected SDK (no model warm-up): the
    body of the commands that only read or change stores (keys, privacy, cache)."""

    async def main() -> T:
        from motadata_ai.api import connect

        async with connect(warm_up=False) as ai:
            return await work(ai)

    return asyncio.run(main())


def required_tenant(help: str) -> Callable[[F], F]:
    """A ``--tenant`` a command cannot do without (keys, a user's data): given on the command or
    anywhere before it on the line (``motadata-ai --tenant acme keys list``), never defaulted."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
        if value is not None:
            return value
        options = options_of(ctx)
        if options.tenant_given:
            return options.tenant
        raise click.MissingParameter(ctx=ctx, param=param)

    return click.option("--tenant", default=None, callback=callback, help=help)


def options_of(ctx: click.Context) -> GlobalOptions:
    """The global options of this command line."""
    return ctx.ensure_object(GlobalOptions)


def arguments(ctx: click.Context) -> argparse.Namespace:
    """The command's parameters and the global options as one namespace (``args.tenant``,
    ``args.json``, ``args.model`` ...), what the command bodies read."""
    options = options_of(ctx)
    return argparse.Namespace(**ctx.params, tenant=options.tenant, json=options.json, verbose=options.verbose)


def run(body: Callable[[argparse.Namespace], Coroutine[Any, Any, int]], ctx: click.Context) -> int:
    """Run an async command body on a fresh event loop; returns its exit code.

    SIGTERM (what a supervisor sends) cancels the body, so what it opened closes as it unwinds
    (the embedded PostgreSQL is stopped, buffered audit events are written), and the command exits
    143, as a process SIGTERM ended would. Before, SIGTERM's default action ended the process at
    once and left the embedded server running on its data directory.
    """
    return asyncio.run(_terminable(body(arguments(ctx))))


async def _terminable(body: Coroutine[Any, Any, int]) -> int:
    task = asyncio.ensure_future(body)
    loop = asyncio.get_running_loop()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError, ValueError):  # no signal handlers here (Windows)
        return await task
    try:
        return await task
    except asyncio.CancelledError:
        if not terminated:
            raise
        return 128 + signal.SIGTERM
    finally:
        release_sigterm()


def release_sigterm() -> None:
    """Hand SIGTERM back from :func:`run` (to a server that stops on it by itself, as uvicorn
    does: both would otherwise see it)."""
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


class SuggestingGroup(click.Group):
    """A group whose commands may live in other modules (``lazy``: name -> ``"module:attribute"``,
    imported only when that command runs or help lists it) and which answers a typo with the
    closest command names."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)
