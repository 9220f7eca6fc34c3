"""``motadata-ai privacy export|erase`` and ``motadata-ai maintenance``: a user's data across
every store, and the retention periods.

``privacy export --tenant T --user U [--output FILE]`` writes one JSON document (schema
``motadata-ai.user-export/1``, see docs/privacy.md) to ``FILE`` or standard output;
``privacy erase --tenant T --user U`` erases the user everywhere and prints the counts per store;
``maintenance [--tenant T ...]`` deletes what is past each tenant's retention periods (default:
the tenants named in ``MOTADATA_PRIVACY__TENANT_RETENTION``, and ``default``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import click

from motadata_ai.cli._group import options_of, required_tenant, with_app

__all__ = ["maintenance", "privacy"]

T = TypeVar("T")


_TENANT = required_tenant("Tenant id of the user (e.g. acme).")
_USER = click.option("--user", required=True, help="User id whose data is exported or erased.")


@click.group(name="privacy")
def privacy() -> None:
    """Export or erase one user's data in every store."""


@privacy.command(name="export")
@_TENANT
@_USER
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: standard output).",
)
def export(tenant: str, user: str, output: Path | None) -> None:
    """Write everything held about a user as one JSON document."""
    document = with_app(lambda ai: _export(ai, tenant, user))
    if output is None:
        click.echo(document)
    else:
        output.write_text(document + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


async def _export(ai: Any, tenant: str, user: str) -> str:
    return str((await ai.privacy.export_user(tenant_id=tenant, user_id=user)).to_json())


@privacy.command(name="erase")
@_TENANT
@_USER
def erase(tenant: str, user: str) -> None:
    """Erase a user's data in every store (usage and audit records kept, pseudonymised)."""
    report = with_app(lambda ai: ai.privacy.erase_user(tenant_id=tenant, user_id=user))
    click.echo(
        json.dumps({"tenant_id": report.tenant_id, "pseudonym": report.pseudonym, "counts": report.counts})
    )


def _tenants(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """The tenants named on the command, else the global ``--tenant`` given before it."""
    if value:
        return value
    options = options_of(ctx)
    return (options.tenant,) if options.tenant_given else ()


@click.command(name="maintenance")
@click.option(
    "--tenant",
    "tenants",
    multiple=True,
    callback=_tenants,
    help="Tenant id (repeatable; also taken from a --tenant before the command; "
    "default: the configured ones and 'default').",
)
def maintenance(tenants: tuple[str, ...]) -> None:
    """Delete what is past the retention periods and print the counts per tenant."""

    async def enforce(ai: Any) -> list[Any]:
        chosen = list(tenants) or sorted({"default", *ai.settings.privacy.tenant_retention})
        return [await ai.privacy.enforce_retention(tenant_id=t) for t in chosen]

    for report in with_app(enforce):
        click.echo(json.dumps({"tenant_id": report.tenant_id, "deleted": report.counts}))
