"""``motadata-ai usage``: a tenant's usage report from the ledger, as a table, JSON or CSV.

``usage --tenant T --since DATE [--until DATE] [--by model|user|operation|day] [--json|--csv]
[--recommendations]`` prints one row per model (user, use-case operation, UTC day) and the total:
calls, tokens, cost, cache hit rate, savings, p50/p95 latency and error rate; with
``--recommendations`` also what would lower the cost, each with the figure behind it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

import click

from motadata_ai.cli._group import options_of, required_tenant, with_app

__all__ = ["format_csv", "format_table", "usage"]

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
_COLUMNS = (
    "key",
    "calls",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cache_hits",
    "cache_hit_rate",
    "saved_usd",
    "latency_p50_ms",
    "latency_p95_ms",
    "errors",
    "error_rate",
)


def _rows(report: Any) -> list[dict[str, Any]]:
    rows = [row.as_dict() for row in report.rows]
    total = report.total.as_dict()
    total["key"] = "TOTAL"
    return [*rows, total]


def format_csv(report: Any) -> str:
    """The report as CSV: a header, one line per group, then the ``TOTAL`` line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(_COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in _rows(report):
        writer.writerow({**row, "key": "" if row["key"] is None else row["key"]})
    return out.getvalue()


def format_table(report: Any) -> str:
    """The report as an aligned text table with a ``TOTAL`` line."""
    header = ("", "calls", "tokens", "cost $", "hit rate", "saved $", "p50 ms", "p95 ms", "errors")
    lines = [header]
    for row in _rows(report):
        lines.append(
            (
                "(none)" if row["key"] is None else str(row["key"]),
                str(row["calls"]),
                str(row["total_tokens"]),
                f"{row['cost_usd']:.6f}",
                f"{row['cache_hit_rate']:.1%}",
                f"{row['saved_usd']:.6f}",
                f"{row['latency_p50_ms']:.1f}",
                f"{row['latency_p95_ms']:.1f}",
                f"{row['error_rate']:.1%}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


@click.command(name="usage")
@required_tenant("Tenant whose usage is reported.")
@click.option(
    "--since", required=True, type=click.DateTime(_FORMATS),
    help="Start of the period, inclusive (a UTC date or time, e.g. 2026-01-01).",
)  # fmt: skip
@click.option(
    "--until", default=None, type=click.DateTime(_FORMATS),
    help="End of the period, exclusive (a UTC date or time; default: now).",
)  # fmt: skip
@click.option(
    "--by", "group_by", default="model", show_default=True,
    type=click.Choice(["model", "user", "operation", "day"]),
    help="Group the rows by model, user, use-case operation or UTC day.",
)  # fmt: skip
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report (and recommendations) as one JSON object."
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (a header, the rows, a TOTAL line).")
@click.option(
    "--recommendations", "recommend", is_flag=True,
    help="Also print the cost recommendations, each with the figure behind it.",
)  # fmt: skip
@click.pass_context
def usage(
    ctx: click.Context,
    tenant: str,
    since: datetime,
    until: datetime | None,
    group_by: str,
    as_json: bool,
    as_csv: bool,
    recommend: bool,
) -> None:
    """Print a tenant's usage from the ledger: tokens, cost, calls, cache hit rate and savings,
    p50/p95 latency and error rate, per model, user, operation or day."""
    as_json = as_json or options_of(ctx).json
    if as_json and as_csv:
        raise click.UsageError("give at most one of --json and --csv")

    async def work(ai: Any) -> tuple[Any, list[Any]]:
        report = await ai.usage.report(tenant_id=tenant, since=since, until=until, group_by=group_by)
        found = (
            await ai.usage.recommendations(tenant_id=tenant, since=since, until=until) if recommend else []
        )
        return report, found

    from motadata_ai.domain.values.errors import ValidationError

    try:
        report, found = with_app(work)
    except ValidationError as e:
        raise click.UsageError(str(e)) from e
    if as_json:
        payload: dict[str, Any] = {
            "tenant_id": report.tenant_id,
            "group_by": report.group_by,
            "since": report.since.isoformat() if report.since else None,
            "until": report.until.isoformat() if report.until else None,
            "rows": [row.as_dict() for row in report.rows],
            "total": report.total.as_dict(),
        }
        if recommend:
            payload["recommendations"] = [r.model_dump() for r in found]
        click.echo(json.dumps(payload, default=str))
        return
    if as_csv:
        click.echo(format_csv(report), nl=False)
        return
    period = (
        f"{report.since:%Y-%m-%d %H:%M} .. {report.until:%Y-%m-%d %H:%M}"
        if report.until
        else (f"since {report.since:%Y-%m-%d %H:%M}")
    )
    click.echo(f"tenant {report.tenant_id}, by {report.group_by}, {period} UTC")
    click.echo(format_table(report))
    for recommendation in found:
        click.echo(f"* {recommendation.kind}: {recommendation.message}")
