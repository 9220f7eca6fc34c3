"""``motadata-ai usage`` on the services profile: a fixed ledger written to real PostgreSQL is
reported by model as a table, as JSON and as CSV, with the hand-computed totals."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from motadata_ai.cli import cli
from motadata_ai.testing.contracts.usage_report import BY, TOTAL, fixed_ledger

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
PERIOD = ["--since", "2030-03-01", "--until", "2030-03-03"]


def env(postgres_dsn: str, redis_url: str) -> dict[str, str]:
    return {
        "MOTADATA_PROFILE": "services",
        "MOTADATA_POSTGRES_DSN": postgres_dsn,
        "MOTADATA_REDIS_URL": redis_url,
    }


async def _write(postgres_dsn: str, a: str, b: str) -> None:
    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.ledger import PostgresUsageLedger

    database = await PostgresDatabase.connect(postgres_dsn)
    try:
        await PostgresUsageLedger(database).record_usage_many(fixed_ledger(a, b))
    finally:
        await database.close()


@pytest.fixture
def tenant(postgres_dsn: str) -> str:
    suffix = uuid.uuid4().hex[:8]
    a, b = f"usage-a-{suffix}", f"usage-b-{suffix}"
    asyncio.run(_write(postgres_dsn, a, b))
    return a


def test_usage_prints_the_report_as_json_csv_and_a_table(
    tenant: str, postgres_dsn: str, redis_url: str
) -> None:
    runner = CliRunner()
    environment = env(postgres_dsn, redis_url)
    as_json = runner.invoke(
        cli, ["usage", "--tenant", tenant, *PERIOD, "--by", "model", "--json"], env=environment
    )
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.output)
    assert [row["key"] for row in payload["rows"]] == [row[0] for row in BY["model"]]
    total = payload["total"]
    assert (total["calls"], total["cache_hits"], total["errors"]) == TOTAL[1:4]
    assert total["cost_usd"] == pytest.approx(TOTAL[6]) and total["latency_p95_ms"] == pytest.approx(TOTAL[9])
    assert total["cache_hit_rate"] == pytest.approx(0.2) and total["error_rate"] == pytest.approx(0.2)

    as_csv = runner.invoke(
        cli, ["usage", "--tenant", tenant, *PERIOD, "--by", "user", "--csv"], env=environment
    )
    assert as_csv.exit_code == 0, as_csv.output
    lines = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [line["key"] for line in lines] == ["alice", "bob", "", "TOTAL"]
    assert [int(line["calls"]) for line in lines] == [2, 2, 1, 5]

    table = runner.invoke(cli, ["usage", "--tenant", tenant, *PERIOD, "--by", "day"], env=environment)
    assert table.exit_code == 0, table.output
    assert "2030-03-01" in table.output and "2030-03-02" in table.output
    assert table.output.strip().splitlines()[-1].split()[:2] == ["TOTAL", "5"]


async def _write_repeats(postgres_dsn: str, tenant: str) -> None:
    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.ledger import PostgresUsageLedger
    from motadata_ai.domain.values.usage import UsageRecord

    database = await PostgresDatabase.connect(postgres_dsn)
    try:
        await PostgresUsageLedger(database).record_usage_many(
            [
                UsageRecord(tenant_id=tenant, model="openai/gpt-4o-mini", fingerprint="f" * 32, cost_usd=0.01,
                            created_at=datetime(2030, 3, 1, hour, tzinfo=UTC))
                for hour in (1, 2, 3, 4)
            ]
        )  # fmt: skip
    finally:
        await database.close()


def test_usage_prints_recommendations_with_their_figures(postgres_dsn: str, redis_url: str) -> None:
    tenant = f"usage-r-{uuid.uuid4().hex[:8]}"
    asyncio.run(_write_repeats(postgres_dsn, tenant))
    runner = CliRunner()
    arguments = ["usage", "--tenant", tenant, *PERIOD, "--recommendations"]
    as_json = runner.invoke(cli, [*arguments, "--json"], env=env(postgres_dsn, redis_url))
    assert as_json.exit_code == 0, as_json.output
    (recommendation,) = json.loads(as_json.output)["recommendations"]
    assert recommendation["kind"] == "longer_cache_ttl" and recommendation["figure"] == 4.0
    assert recommendation["estimated_savings_usd"] == pytest.approx(0.03)
    text = runner.invoke(cli, arguments, env=env(postgres_dsn, redis_url))
    assert (
        text.exit_code == 0
        and "* longer_cache_ttl: 1 request(s) were paid at the provider 4 times" in text.output
    )


def test_usage_refuses_bad_arguments(postgres_dsn: str, redis_url: str) -> None:
    runner = CliRunner()
    environment = env(postgres_dsn, redis_url)
    unknown = runner.invoke(cli, ["usage", "--tenant", "acme", *PERIOD, "--by", "region"], env=environment)
    assert unknown.exit_code == 2 and "region" in unknown.output
    both = runner.invoke(cli, ["usage", "--tenant", "acme", *PERIOD, "--json", "--csv"], env=environment)
    assert both.exit_code == 2 and "--json" in both.output
    missing = runner.invoke(cli, ["usage", "--tenant", "acme"], env=environment)
    assert missing.exit_code == 2 and "--since" in missing.output
