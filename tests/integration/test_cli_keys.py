"""``motadata-ai keys create|list|revoke`` (the click group) on real PostgreSQL: a key created by
the command authenticates, is listed without its secret, and stops working once revoked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.keys import PostgresKeyStore
from motadata_ai.cli.keys import keys
from motadata_ai.domain.access import VirtualKeys
from motadata_ai.domain.values.api_keys import InvalidAPIKey

pytestmark = pytest.mark.postgres


def authenticate(dsn: str, token: str) -> str:
    async def run() -> str:
        database = await PostgresDatabase.connect(dsn)
        try:
            return (await VirtualKeys(PostgresKeyStore(database)).authenticate(token)).tenant_id
        finally:
            await database.close()

    return asyncio.run(run())


def test_create_list_revoke(postgres_dsn: str, tmp_path: Path) -> None:
    tenant = f"cli-{tmp_path.name[-12:].replace('_', '-')}".strip("-")
    runner = CliRunner(
        env={
            "MOTADATA_PROFILE": "services",
            "MOTADATA_POSTGRES_DSN": postgres_dsn,
            "MOTADATA_DATA_DIR": str(tmp_path),
        }
    )
    created = runner.invoke(
        keys,
        [
            "create",
            "--tenant",
            tenant,
            "--user",
            "alice",
            "--model",
            "openai/gpt-4o-mini",
            "--rpm",
            "30",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert created.exit_code == 0, created.output
    made = json.loads(created.stdout)
    assert (
        made["key"].startswith("mk-")
        and made["tenant_id"] == tenant
        and made["allowed_models"] == ["openai/gpt-4o-mini"]
    )
    assert "secret_hash" not in made
    assert authenticate(postgres_dsn, made["key"]) == tenant

    listed = runner.invoke(keys, ["list", "--tenant", tenant, "--json"], catch_exceptions=False)
    rows = json.loads(listed.stdout)
    assert [row["id"] for row in rows] == [made["id"]] and made["key"] not in listed.stdout
    text = runner.invoke(keys, ["list", "--tenant", tenant], catch_exceptions=False)
    assert made["id"] in text.stdout and "30/min" in text.stdout

    revoked = runner.invoke(keys, ["revoke", made["id"], "--tenant", tenant], catch_exceptions=False)
    assert revoked.exit_code == 0 and made["id"] in revoked.stdout
    with pytest.raises(InvalidAPIKey):
        authenticate(postgres_dsn, made["key"])
    assert json.loads(runner.invoke(keys, ["list", "--tenant", tenant, "--json"]).stdout) == []
    again = runner.invoke(keys, ["revoke", made["id"], "--tenant", tenant])
    assert again.exit_code != 0 and type(again.exception).__name__ == "NotFound"


def test_the_options_are_checked_before_anything_runs() -> None:
    runner = CliRunner()
    missing = runner.invoke(keys, ["create"])
    bad_rpm = runner.invoke(keys, ["create", "--tenant", "acme", "--rpm", "0"])
    assert missing.exit_code == 2 and "--tenant" in missing.output
    assert bad_rpm.exit_code == 2 and "--rpm" in bad_rpm.output
