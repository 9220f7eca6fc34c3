"""Concurrent promotions and rollbacks of one model alias keep the alias and its history whole.

Many callers at once (on PostgreSQL: two registries with a connection pool each, as two
processes would have) promote random versions of one model, promote a version that does not
exist, and roll the alias back, while a reader keeps resolving the alias. Invariants:

* every resolution, during and after the race, is one existing version of the model;
* every call returns an ``AliasChange`` or raises the port's typed error for its case
  (``VersionNotFound`` for the missing version, ``AliasNotFound`` for a rollback with nothing
  to go back to), nothing else;
* the changes are linearizable: some serial order of them, applied to the alias history (a
  stack: a promotion pushes a new target, a rollback pops one), explains every ``previous`` and
  ``current`` each caller was told and ends in the history the registry holds afterwards.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from motadata_ai.adapters.memory.ml import InMemoryModelRegistry
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.ml import PostgresModelRegistry
from motadata_ai.domain.values.ml import AliasChange
from motadata_ai.ports.ml import AliasNotFound, ModelRegistryPort, VersionNotFound
from motadata_ai.testing.contracts.ml import sample_version
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = [pytest.mark.faults]

TENANT = "tenant-a"
ALIAS = "champion"
VERSIONS = 4
MISSING_VERSION = 99
CALLS = 20
ROUNDS = 3


@dataclass(frozen=True)
class Call:
    """One caller's request and what it got back."""

    kind: str  # "promote" or "rollback"
    version: int | None
    outcome: AliasChange | BaseException


def explains(calls: Sequence[Call], start: tuple[int, ...], end: tuple[int, ...]) -> bool:
    """``True`` when some serial order of ``calls`` takes the history ``start`` to ``end`` and
    gives each call exactly the outcome it reported (a depth-first search over the orders)."""
    effective = [c for c in calls if not (c.kind == "promote" and isinstance(c.outcome, VersionNotFound))]
    seen: set[tuple[tuple[int, ...], frozenset[int]]] = set()

    def step(history: tuple[int, ...], call: Call) -> tuple[int, ...] | None:
        top = history[-1]
        if isinstance(call.outcome, AliasChange):
            change = call.outcome
            if call.kind == "promote":
                if change.previous != top or change.current != call.version:
                    return None
                return history if call.version == top else (*history, change.current)
            if len(history) >= 2 and change.previous == top and change.current == history[-2]:
                return history[:-1]
            return None
        if call.kind == "rollback" and isinstance(call.outcome, AliasNotFound):
            return history if len(history) < 2 else None
        return None

    def search(history: tuple[int, ...], left: frozenset[int]) -> bool:
        if not left:
            return history == end
        if (history, left) in seen:
            return False
        seen.add((history, left))
        for index in left:
            after = step(history, effective[index])
            if after is not None and search(after, left - {index}):
                return True
        return False

    return search(start, frozenset(range(len(effective))))


async def history_of(registry: ModelRegistryPort, model: str) -> tuple[int, ...]:
    """The alias history, oldest first, read through the port by rolling back to the bottom."""
    targets = [(await registry.resolve_alias(TENANT, model, ALIAS)).version]
    while True:
        try:
            change = await registry.rollback_alias(TENANT, model, ALIAS)
        except AliasNotFound:
            return tuple(reversed(targets))
        assert change.previous == targets[-1]
        targets.append(change.current)


async def race(registries: Sequence[ModelRegistryPort], model: str, seed: int) -> None:
    first = registries[0]
    for run in range(VERSIONS):
        await first.register(sample_version(TENANT, model, run_id=f"run-{run}"))
    await first.set_alias(TENANT, model, ALIAS, 1)
    rng = random.Random(seed)
    plan: list[tuple[str, int | None]] = []
    for index in range(CALLS):
        if index == CALLS // 2:
            plan.append(("promote", MISSING_VERSION))
        elif rng.random() < 0.55:
            plan.append(("promote", rng.randint(1, VERSIONS)))
        else:
            plan.append(("rollback", None))

    async def perform(index: int, kind: str, version: int | None) -> Call:
        registry = registries[index % len(registries)]
        try:
            if kind == "promote":
                assert version is not None
                outcome: AliasChange | BaseException = await registry.set_alias(TENANT, model, ALIAS, version)
            else:
                outcome = await registry.rollback_alias(TENANT, model, ALIAS)
        except Exception as e:  # checked below: only the typed errors of each case are allowed
            outcome = e
        return Call(kind, version, outcome)

    racing = True
    resolved: list[int] = []

    async def read() -> None:
        while racing:
            found = await registries[-1].resolve_alias(TENANT, model, ALIAS)
            assert found.model_name == model and found.tenant_id == TENANT
            resolved.append(found.version)
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    try:
        calls = await asyncio.gather(*(perform(i, kind, v) for i, (kind, v) in enumerate(plan)))
    finally:
        racing = False
    await reader

    for call in calls:
        if isinstance(call.outcome, BaseException):
            expected = VersionNotFound if call.version == MISSING_VERSION else AliasNotFound
            assert type(call.outcome) is expected, call
        else:
            assert call.version != MISSING_VERSION, call
    assert resolved and set(resolved) <= set(range(1, VERSIONS + 1))
    [summary] = [m for m in await first.list_models(TENANT) if m.model_name == model]
    current = (await first.resolve_alias(TENANT, model, ALIAS)).version
    assert summary.aliases[ALIAS] == current
    end = await history_of(registries[-1], model)
    assert end[-1] == current
    assert explains(calls, (1,), end), (calls, end)


async def test_concurrent_promote_and_rollback_in_memory() -> None:
    registry = InMemoryModelRegistry()
    for round_ in range(ROUNDS):
        await race([registry], f"priority-{round_}", seed=round_)


@pytest.fixture
async def two_registries(postgres_dsn: str) -> AsyncIterator[list[ModelRegistryPort]]:
    """Two registries with a pool each on one fresh schema, as two processes would have."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(isolated_database(postgres_dsn))
        async with first.pool.acquire() as conn:
            schema = await conn.fetchval("SELECT current_schema()")
        second = await PostgresDatabase.connect(
            postgres_dsn, min_size=4, max_size=4, server_settings={"search_path": f"{schema},public"}
        )
        stack.push_async_callback(second.close)
        registries: list[ModelRegistryPort] = [PostgresModelRegistry(first), PostgresModelRegistry(second)]
        for registry in registries:
            await registry.list_models(TENANT)  # tables made, connections open: the calls overlap
        yield registries


@pytest.mark.postgres
async def test_concurrent_promote_and_rollback_on_postgres(two_registries: list[ModelRegistryPort]) -> None:
    for round_ in range(ROUNDS):
        await race(two_registries, f"priority-{round_}", seed=round_)
