"""``motadata-ai keys create|list|revoke --tenant ...``: the virtual API keys of ``serve``.

Keys live in the profile's store (PostgreSQL on the ``local`` and ``services`` profiles; in
process, for that process only, on ``memory``). The whole key is printed once, by ``create``;
only its SHA-256 is stored.

Examples::

    motadata-ai keys create --tenant acme --user alice --model openai/gpt-4o-mini --rpm 60 --budget 5
    motadata-ai keys list --tenant acme --json
    motadata-ai keys revoke 3f9c0a1b2c3d4e5f --tenant acme
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from motadata_ai.cli._group import required_tenant, with_app

__all__ = ["keys"]

T = TypeVar("T")


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """``work(keys)`` over the app's key store and limits."""
    from motadata_ai.domain.access import VirtualKeys

    return with_app(
        lambda ai: work(
            VirtualKeys(ai.port("api_keys"), limits=ai.port("limits"), audit_trail=ai.audit_trail)
        )
    )


def _row(key: Any) -> dict[str, Any]:
    return key.model_dump(mode="json", exclude={"secret_hash"})


_TENANT = required_tenant("Tenant id the key speaks for (e.g. acme).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(name="keys")
def keys() -> None:
    """Create, list and revoke the per-tenant API keys of `motadata-ai serve`."""


@keys.command(name="create")
@_TENANT
@click.option("--user", default=None, help="The user every call of this key is made as (optional).")
@click.option("--name", default="", help="A label for the key (e.g. 'helpdesk-bot').")
@click.option(
    "--model",
    "models",
    multiple=True,
    help="A model the key may call; repeat for several (default: every model the gateway serves).",
)
@click.option(
    "--rpm", type=click.IntRange(min=1), default=None, help="Requests per minute of this key alone."
)
@click.option("--budget", type=click.FloatRange(min=0), default=None, help="Spend limit of this key, in USD.")
@_JSON
def create(
    tenant: str,
    user: str | None,
    name: str,
    models: tuple[str, ...],
    rpm: int | None,
    budget: float | None,
    as_json: bool,
) -> None:
    """Create a key and print it (the only time it is shown)."""
    issued = _run(
        lambda keys: keys.create(
            tenant,
            user_id=user,
            name=name,
            allowed_models=list(models) or None,
            requests_per_minute=rpm,
            budget_usd=budget,
        )
    )
    if as_json:
        click.echo(json.dumps({**_row(issued.key), "key": issued.token}))
        return
    click.echo(issued.token)
    click.echo(
        f"key {issued.key.id} of tenant {issued.key.tenant_id}: store it now, it is not shown again", err=True
    )


@keys.command(name="list")
@_TENANT
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@_JSON
def list_keys(tenant: str, include_revoked: bool, as_json: bool) -> None:
    """List the tenant's keys (ids and policies, never the secrets)."""
    found = _run(lambda keys: keys.list(tenant, include_revoked=include_revoked))
    if as_json:
        click.echo(json.dumps([_row(k) for k in found]))
        return
    for key in found:
        policy = [
            f"user {key.user_id}" if key.user_id else "",
            f"models {','.join(key.allowed_models)}" if key.allowed_models is not None else "",
            f"{key.requests_per_minute}/min" if key.requests_per_minute else "",
            f"budget ${key.budget_usd:g} (spent ${key.spent_usd:.6f})" if key.budget_usd is not None else "",
            "revoked" if key.revoked else "",
        ]
        described = "; ".join(p for p in policy if p)
        click.echo(f"{key.id}  {key.name or '-'}  {key.created_at:%Y-%m-%d %H:%M}  {described}")


@keys.command(name="revoke")
@click.argument("key_id")
@_TENANT
def revoke(key_id: str, tenant: str) -> None:
    """Revoke a key by its id (the 16 hex digits after `mk-`)."""
    _run(lambda keys: keys.revoke(tenant, key_id))
    click.echo(f"revoked {key_id}")
