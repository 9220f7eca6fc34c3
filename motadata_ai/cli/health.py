"""``motadata-ai health [--json]``: the health report of every component the SDK uses.

It connects as any command does (the profile and URLs from the environment), probes every
adapter once (:func:`motadata_ai.health.health_report`) and prints one line per component
(status, probe latency, the details that matter), or the whole report as JSON with ``--json``.
Exit code 0 when the SDK is ready (every component ``ok`` or ``degraded``), 1 when one is down.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

__all__ = ["health"]

_SHOWN_DETAILS = (
    "adapter",
    "address",
    "pool_in_use",
    "pool_max",
    "reconnects",
    "breakers",
    "stores",
    "loaded_models",
    "loaded",
    "circuit",
)


def _line(name: str, component: Any) -> str:
    shown = ", ".join(
        f"{key}={component.details[key]}"
        for key in _SHOWN_DETAILS
        if component.details.get(key) not in (None, {}, "")
    )
    routes = component.details.get("routes")
    if routes:  # the model ports: each built route's adapter and status
        listed = " ".join(f"{route}:{r['adapter']}:{r['status']}" for route, r in sorted(routes.items()))
        shown = f"{shown}, routes={listed}" if shown else f"routes={listed}"
    line = f"{name:<15} {component.status:<9} {component.latency_ms:8.1f} ms"
    if shown:
        line = f"{line}  {shown}"
    if component.error:
        line = f"{line}  error: {component.error}"
    return line


async def _report(timeout: float, status: Any) -> Any:
    from motadata_ai.api import connect

    async with connect(warm_up=False, status=status) as ai:
        return await ai.health(timeout=timeout)


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option(
    "--timeout",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds each probe may take.",
)
def health(as_json: bool, timeout: float) -> None:
    """Probe every component in use and print its status, latency and details."""

    def say(message: str) -> None:
        if not as_json:
            click.echo(message, err=True)

    report = asyncio.run(_report(timeout, say))
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), indent=2, default=str))
    else:
        click.echo(
            f"status {report.status} · ready {'yes' if report.ready else 'no'} · profile {report.profile}"
        )
        for name, component in report.components.items():
            click.echo(_line(name, component))
    sys.exit(0 if report.ready else 1)
