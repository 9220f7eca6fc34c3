"""``motadata-ai cache warm`` / ``invalidate`` (click) on the services profile: real PostgreSQL and
Valkey, the tiered cache (in-process L1 + Redis L2) from the settings."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from motadata_ai.cli.cache import cache

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def env(postgres_dsn: str, redis_url: str) -> dict[str, str]:
    return {
        "MOTADATA_PROFILE": "services",
        "MOTADATA_POSTGRES_DSN": postgres_dsn,
        "MOTADATA_REDIS_URL": redis_url,
        "MOTADATA_CACHE_L1": "true",
        "MOTADATA_REDIS_TIMEOUT": "2",
    }


def test_warm_caches_every_prompt_once_and_invalidate_removes_them(
    tmp_path: Path, postgres_dsn: str, redis_url: str
) -> None:
    tenant = f"warm-{uuid.uuid4().hex[:8]}"
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(
        "# the questions users ask most\nHow do I reset my password?\n\nWho approves a change?\n"
    )
    runner = CliRunner()
    first = runner.invoke(
        cache, ["warm", "--tenant", tenant, "--prompts", str(prompts)], env=env(postgres_dsn, redis_url)
    )
    assert first.exit_code == 0, first.output
    assert f"tenant {tenant}: 2 prompts warmed, 2 answered and cached, 0 already cached" in first.output
    again = runner.invoke(
        cache, ["warm", "--tenant", tenant, "--prompts", str(prompts)], env=env(postgres_dsn, redis_url)
    )
    assert again.exit_code == 0, again.output
    assert "0 answered and cached, 2 already cached" in again.output  # a new process: from Redis

    removed = runner.invoke(
        cache, ["invalidate", "--tenant", tenant, "--pattern", "chat:*"], env=env(postgres_dsn, redis_url)
    )
    assert removed.exit_code == 0, removed.output
    assert f"tenant {tenant}: 2 cache entries removed" in removed.output
    after = runner.invoke(
        cache, ["warm", "--tenant", tenant, "--prompts", str(prompts)], env=env(postgres_dsn, redis_url)
    )
    assert "2 answered and cached, 0 already cached" in after.output


def test_bad_arguments_are_usage_errors(tmp_path: Path, postgres_dsn: str, redis_url: str) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    runner = CliRunner()
    result = runner.invoke(cache, ["warm", "--tenant", "acme", "--prompts", str(empty)])
    assert result.exit_code == 2 and "holds no prompt" in result.output
    both = runner.invoke(cache, ["invalidate", "--tenant", "acme", "--pattern", "x*", "--all"])
    assert both.exit_code == 2 and "exactly one" in both.output
    bad = runner.invoke(
        cache, ["invalidate", "--tenant", "acme", "--pattern", "chat:[ab]"], env=env(postgres_dsn, redis_url)
    )
    assert bad.exit_code == 2 and "key pattern" in bad.output


def test_warm_from_recent_reads_back_the_frequent_requests_and_asks_the_expired_ones_again(
    tmp_path: Path, postgres_dsn: str, redis_url: str
) -> None:
    tenant = f"recent-{uuid.uuid4().hex[:8]}"
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("How do I reset my password?\nWho approves a change?\n")
    runner = CliRunner()
    environment = env(postgres_dsn, redis_url)
    asked = runner.invoke(cache, ["warm", "--tenant", tenant, "--prompts", str(prompts)], env=environment)
    assert asked.exit_code == 0, asked.output

    cached = runner.invoke(cache, ["warm", "--tenant", tenant, "--from-recent", "10"], env=environment)
    assert cached.exit_code == 0, cached.output
    assert f"tenant {tenant}: 2 recent requests still cached, 0 asked again" in cached.output

    runner.invoke(cache, ["invalidate", "--tenant", tenant, "--pattern", "chat:*"], env=environment)
    refreshed = runner.invoke(cache, ["warm", "--tenant", tenant, "--from-recent", "10"], env=environment)
    assert refreshed.exit_code == 0, refreshed.output
    assert (
        "0 recent requests still cached, 2 asked again and cached, 0 without a stored request"
        in refreshed.output
    )
    again = runner.invoke(cache, ["warm", "--tenant", tenant, "--prompts", str(prompts)], env=environment)
    assert "0 answered and cached, 2 already cached" in again.output


def test_warm_needs_exactly_one_source(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("one\n")
    runner = CliRunner()
    neither = runner.invoke(cache, ["warm", "--tenant", "acme"])
    assert neither.exit_code == 2 and "exactly one of --prompts and --from-recent" in neither.output
    both = runner.invoke(cache, ["warm", "--tenant", "acme", "--prompts", str(prompts), "--from-recent", "3"])
    assert both.exit_code == 2 and "exactly one" in both.output
