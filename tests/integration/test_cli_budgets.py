"""``motadata-ai budgets`` on the services profile: a tenant's budgets from the configuration
with what was spent against them, and its alerts written to real PostgreSQL, as text and JSON."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from motadata_ai.cli import cli

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def env(postgres_dsn: str, redis_url: str, tenant: str) -> dict[str, str]:
    policy = {
        "daily_budget_usd": 5.0,
        "budget_alert_thresholds": [0.9, 0.5],
        "budgets": [{"period": "monthly", "limit_usd": 20.0, "user": "bob", "hard_stop": False}],
    }
    return {
        "MOTADATA_PROFILE": "services",
        "MOTADATA_POSTGRES_DSN": postgres_dsn,
        "MOTADATA_REDIS_URL": redis_url,
        "MOTADATA_GATEWAY__TENANTS": json.dumps({tenant: policy}),
    }


async def _write(postgres_dsn: str, tenant: str) -> None:
    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.ledger import PostgresUsageLedger
    from motadata_ai.domain.values.usage import BudgetAlert, UsageRecord

    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    database = await PostgresDatabase.connect(postgres_dsn)
    try:
        ledger = PostgresUsageLedger(database)
        await ledger.record_usage(UsageRecord(tenant_id=tenant, model="openai/gpt-4o-mini", cost_usd=3.0))
        for threshold, created in ((0.5, datetime(2030, 1, 1, 9, tzinfo=UTC)),
                                   (0.9, datetime(2030, 1, 1, 10, tzinfo=UTC))):  # fmt: skip
            await ledger.claim_budget_alert(
                BudgetAlert(
                    tenant_id=tenant,
                    budget="tenant",
                    period="daily",
                    period_start=today,
                    threshold=threshold,
                    limit_usd=5.0,
                    spent_usd=5.0 * threshold,
                    created_at=created,
                )
            )
    finally:
        await database.close()


@pytest.fixture
def tenant(postgres_dsn: str) -> str:
    name = f"budgets-{uuid.uuid4().hex[:8]}"
    asyncio.run(_write(postgres_dsn, name))
    return name


def test_budgets_list_prints_the_limits_and_the_spend_against_them(
    tenant: str, postgres_dsn: str, redis_url: str
) -> None:
    runner = CliRunner()
    environment = env(postgres_dsn, redis_url, tenant)
    as_json = runner.invoke(cli, ["budgets", "list", "--tenant", tenant, "--json"], env=environment)
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.output)
    assert payload["tenant_id"] == tenant
    assert (payload["daily_usd"], payload["monthly_usd"]) == (5.0, None)
    assert payload["thresholds"] == [0.5, 0.9]
    assert payload["spent_today_usd"] == pytest.approx(3.0)
    assert payload["spent_this_month_usd"] == pytest.approx(3.0)
    (rule,) = payload["rules"]
    assert (rule["period"], rule["limit_usd"], rule["user"], rule["hard_stop"]) == (
        "monthly",
        20.0,
        "bob",
        False,
    )

    text = runner.invoke(cli, ["budgets", "list", "--tenant", tenant], env=environment)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert "daily: 5.000000 USD, spent today 3.000000 USD (60%)" in lines
    assert "monthly: none, spent this month 3.000000 USD" in lines
    assert "thresholds: 0.5, 0.9" in lines
    assert "rule: monthly 20.000000 USD, user bob, soft, thresholds 0.5, 0.8, 1" in lines


def test_budgets_alerts_prints_the_alerts_newest_first(
    tenant: str, postgres_dsn: str, redis_url: str
) -> None:
    runner = CliRunner()
    environment = env(postgres_dsn, redis_url, tenant)
    as_json = runner.invoke(cli, ["budgets", "alerts", "--tenant", tenant, "--json"], env=environment)
    assert as_json.exit_code == 0, as_json.output
    alerts = json.loads(as_json.output)
    assert [(a["budget"], a["period"], a["threshold"]) for a in alerts] == [
        ("tenant", "daily", 0.9),
        ("tenant", "daily", 0.5),
    ]
    assert alerts[0]["spent_usd"] == pytest.approx(4.5) and alerts[0]["limit_usd"] == 5.0

    limited = runner.invoke(cli, ["budgets", "alerts", "--tenant", tenant, "--limit", "1"], env=environment)
    assert limited.exit_code == 0, limited.output
    (line,) = limited.output.strip().splitlines()
    assert line.startswith("2030-01-01 10:00 tenant daily 90%") and "4.500000 / 5.000000 USD" in line

    none = runner.invoke(
        cli, ["budgets", "alerts", "--tenant", tenant, "--since", "2031-01-01"], env=environment
    )
    assert none.exit_code == 0 and none.output.strip() == f"no budget alerts for tenant {tenant}"


def test_budgets_needs_a_tenant(postgres_dsn: str, redis_url: str) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["budgets", "list"], env=env(postgres_dsn, redis_url, "acme"))
    assert missing.exit_code == 2 and "--tenant" in missing.output
