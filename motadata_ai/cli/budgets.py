"""``motadata-ai budgets list|alerts --tenant T [--json]``: a tenant's budgets and its alerts.

``list`` prints the tenant's effective budgets (its gateway policy over the gateway-wide values,
``ai.budgets.get``): the daily and monthly limits with what was spent against them today and this
month (UTC), the alert thresholds, and the other budget rules (per user or model, soft or hard).
``alerts`` prints the alerts raised so far from the usage ledger, newest first
(``ai.budgets.alerts``). Budgets are set in the configuration (``gateway.daily_budget_usd``,
``gateway.tenants.<id>.budgets`` ...) or at run time with ``ai.budgets.set`` in the serving
process: a one-shot command cannot change another process's budgets.

Examples::

    motadata-ai budgets list --tenant acme
    motadata-ai budgets alerts --tenant acme --since 2026-01-01 --json
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from motadata_ai.cli._group import options_of, required_tenant, with_app

__all__ = ["budgets"]

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _fractions(values: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def _usd(value: float | None) -> str:
    return "none" if value is None else f"{value:.6f} USD"


def _limit_line(name: str, limit: float | None, spent: float, when: str) -> str:
    line = f"{name}: {_usd(limit)}, spent {when} {spent:.6f} USD"
    return f"{line} ({spent / limit:.0%})" if limit else line


def _rule_line(rule: Any) -> str:
    parts = [f"rule: {rule.period} {rule.limit_usd:.6f} USD"]
    if rule.user is not None:
        parts.append("each user" if rule.user == "*" else f"user {rule.user}")
    if rule.model is not None:
        parts.append(f"model {rule.model}")
    parts.append("hard" if rule.hard_stop else "soft")
    parts.append(f"thresholds {_fractions(rule.thresholds)}")
    return ", ".join(parts)


@click.group(name="budgets")
def budgets() -> None:
    """Show a tenant's budgets, the spend against them, and the budget alerts raised."""


@budgets.command(name="list")
@required_tenant("Tenant whose budgets are shown (e.g. acme).")
@_JSON
@click.pass_context
def list_budgets(ctx: click.Context, tenant: str, as_json: bool) -> None:
    """Print the tenant's daily and monthly budgets with today's and this month's spend, the alert
    thresholds and the other budget rules."""
    as_json = as_json or options_of(ctx).json
    now = datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)

    async def work(ai: Any) -> tuple[Any, float, float]:
        effective = ai.budgets.get(tenant)
        await ai.gateway.flush()
        ledger = ai.usage.ledger
        return (
            effective,
            await ledger.spend(tenant=effective.tenant_id, since=day),
            await ledger.spend(tenant=effective.tenant_id, since=month),
        )

    from motadata_ai.domain.values.errors import ValidationError

    try:
        effective, today, this_month = with_app(work)
    except ValidationError as e:
        raise click.UsageError(str(e)) from e
    if as_json:
        payload = effective.model_dump(mode="json")
        payload.update(spent_today_usd=today, spent_this_month_usd=this_month)
        click.echo(json.dumps(payload))
        return
    click.echo(f"tenant {effective.tenant_id}")
    click.echo(_limit_line("daily", effective.daily_usd, today, "today"))
    click.echo(_limit_line("monthly", effective.monthly_usd, this_month, "this month"))
    click.echo(f"thresholds: {_fractions(effective.thresholds)}")
    for rule in effective.rules:
        click.echo(_rule_line(rule))


@budgets.command(name="alerts")
@required_tenant("Tenant whose budget alerts are shown (e.g. acme).")
@click.option(
    "--since", default=None, type=click.DateTime(_FORMATS),
    help="Only alerts raised at or after this UTC date or time (e.g. 2026-01-01).",
)  # fmt: skip
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, 10_000),
    help="The most alerts to print, newest first.",
)  # fmt: skip
@_JSON
@click.pass_context
def alerts(ctx: click.Context, tenant: str, since: datetime | None, limit: int, as_json: bool) -> None:
    """Print the tenant's budget alerts, newest first: when, which budget, period, threshold,
    and the spend against the limit when it was crossed."""
    as_json = as_json or options_of(ctx).json
    moment = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since

    async def work(ai: Any) -> list[Any]:
        found: list[Any] = await ai.budgets.alerts(tenant, since=moment, limit=limit)
        return found

    from motadata_ai.domain.values.errors import ValidationError

    try:
        found = with_app(work)
    except ValidationError as e:
        raise click.UsageError(str(e)) from e
    if as_json:
        click.echo(json.dumps([alert.model_dump(mode="json") for alert in found]))
        return
    if not found:
        click.echo(f"no budget alerts for tenant {tenant}")
        return
    for alert in found:
        click.echo(
            f"{alert.created_at.astimezone(UTC):%Y-%m-%d %H:%M} {alert.budget} {alert.period} "
            f"{alert.threshold:.0%} {alert.spent_usd:.6f} / {alert.limit_usd:.6f} USD "
            f"(period from {alert.period_start.astimezone(UTC):%Y-%m-%d})"
        )
