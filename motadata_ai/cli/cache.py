"""``motadata-ai cache``: warm the gateway's response cache and invalidate entries of a tenant.

* ``cache warm --tenant T --prompts FILE [--model M] [--concurrency N]`` sends each prompt of
  ``FILE`` (one per line; blank lines and ``#`` comments skipped) through the gateway, so the
  answers are in the shared cache (L2, and this process's L1) before users ask;
* ``cache warm --tenant T --from-recent N`` warms the tenant's ``N`` most frequent recent
  cacheable requests, as the cache store recorded them (:mod:`motadata_ai.domain.gateway.recent`):
  an answer still cached is read through the tiers, an expired one is asked again;
* ``cache invalidate --tenant T (--pattern P | --all) [--namespace gw]`` removes the tenant's
  entries matching a glob over the escaped key segments (``chat:*``), or all of the namespace,
  on every tier and every instance (the tiered cache broadcasts the change).

A ``click.Group`` named ``cache``; the root command adds it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from motadata_ai.cli._group import required_tenant, with_app

__all__ = ["cache"]


def read_prompts(path: Path) -> list[str]:
    """The prompts of a file: one per line, blank lines and ``#`` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


async def warm(
    ai: Any, *, tenant: str, prompts: list[str], model: str | None, concurrency: int
) -> dict[str, int]:
    """Send every prompt through ``ai.gateway`` (at most ``concurrency`` at once); count the
    answers that came from the provider (now cached) and those already cached."""
    from motadata_ai.domain.values.llm import ChatRequest, Message

    chosen = model or ai.settings.gateway.default_model
    counts = {"answered": 0, "already_cached": 0}
    gate = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> None:
        request = ChatRequest(model=chosen, messages=(Message(role="user", content=prompt),))
        async with gate:
            response = await ai.gateway.generate(request, tenant_id=tenant)
        counts["already_cached" if response.cached else "answered"] += 1

    await asyncio.gather(*(one(p) for p in prompts))
    return counts


async def warm_from_recent(ai: Any, *, tenant: str, limit: int) -> Any:
    """Warm the ``limit`` most frequent recent requests of ``tenant`` through ``ai.gateway``."""
    from motadata_ai.domain.gateway.recent import warm_recent

    store = ai.port("cache")
    return await warm_recent(store, ai.gateway.generate, tenant_id=tenant, limit=limit)


@click.group(name="cache")
def cache() -> None:
    """Warm and invalidate the gateway's response cache."""


@cache.command(name="warm")
@required_tenant("Tenant whose cache is warmed.")
@click.option(
    "--prompts", "prompts_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File with one prompt per line.",
)  # fmt: skip
@click.option(
    "--from-recent", "from_recent", default=None, type=click.IntRange(1, 1_000_000),
    help="Warm the tenant's N most frequent recent cacheable requests instead of a file.",
)  # fmt: skip
@click.option("--model", default=None, help="Chat model (default: MOTADATA_LLM_MODEL).")
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Prompts answered at once.",
)
def warm_command(
    tenant: str, prompts_file: Path | None, from_recent: int | None, model: str | None, concurrency: int
) -> None:
    """Answer each prompt of a file (or each frequent recent request) once, so the answers are
    cached for every instance."""
    if (prompts_file is None) == (from_recent is None):
        raise click.UsageError("give exactly one of --prompts and --from-recent")
    if from_recent is not None:
        done = with_app(lambda ai: warm_from_recent(ai, tenant=tenant, limit=from_recent))
        click.echo(
            f"tenant {tenant}: {done.cached} recent requests still cached, {done.refreshed} asked again "
            f"and cached, {done.missing} without a stored request, {done.failed} failed"
        )
        return
    assert prompts_file is not None
    prompts = read_prompts(prompts_file)
    if not prompts:
        raise click.UsageError(f"{prompts_file} holds no prompt")

    counts = with_app(
        lambda ai: warm(ai, tenant=tenant, prompts=prompts, model=model, concurrency=concurrency)
    )
    click.echo(
        f"tenant {tenant}: {len(prompts)} prompts warmed, {counts['answered']} answered and cached, "
        f"{counts['already_cached']} already cached"
    )


@cache.command(name="invalidate")
@required_tenant("Tenant whose entries are removed.")
@click.option(
    "--pattern", default=None, help="Glob over the key segments after the namespace, e.g. 'chat:*'."
)
@click.option("--all", "everything", is_flag=True, help="Every entry of the namespace.")
@click.option(
    "--namespace",
    default="gw",
    show_default=True,
    help="Key namespace (gw: gateway answers, ml: predictions).",
)
def invalidate_command(tenant: str, pattern: str | None, everything: bool, namespace: str) -> None:
    """Remove a tenant's cache entries on every tier and instance."""
    if (pattern is None) == (not everything):
        raise click.UsageError("give exactly one of --pattern and --all")

    async def run(ai: Any) -> int:
        store = ai.port("cache")
        store = getattr(store, "primary", store)  # behind the gateway's circuit
        if everything:
            return int(await store.delete_tenant(tenant, namespace=namespace))
        matching = getattr(store, "delete_matching", None)
        if matching is None:
            raise click.UsageError(f"the configured cache ({type(store).__name__}) cannot delete by pattern")
        return int(await matching(tenant, pattern, namespace=namespace))

    from motadata_ai.domain.values.errors import ValidationError

    try:
        removed = with_app(run)
    except ValidationError as e:
        raise click.UsageError(str(e)) from e
    click.echo(f"tenant {tenant}: {removed} cache entries removed")
