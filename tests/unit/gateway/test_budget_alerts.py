"""Budget alerts through the gateway, on a fake clock: each threshold once per period, everywhere.

Every call costs exactly $0.125 (one output token at $0.125), so the spend after ``n`` calls is
``n / 8`` of a $1 budget with no rounding: 0.5 is reached at call 4, 0.8 at call 7, 1.0 at call 8.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import BudgetExceeded, Gateway, GatewayConfig
from motadata_ai.domain.gateway.budget_alerts import ALERT_METRIC
from motadata_ai.domain.gateway.budgets import BudgetRule, usd
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.usage import BudgetAlert, ModelPrice

from .conftest import NOON, Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]
PRICE = {"test/model": ModelPrice(output_per_token=0.125), "test/other": ModelPrice(output_per_token=0.125)}


class WallClock:
    """The gateway's wall clock, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CountingLedger(InMemoryUsageLedger):
    """The in-memory ledger, counting the budget queries the gateway makes."""

    def __init__(self) -> None:
        super().__init__()
        self.spend_queries = 0
        self.claims = 0

    async def spend(self, **query: object) -> float:  # type: ignore[override]
        self.spend_queries += 1
        return await super().spend(**query)  # type: ignore[arg-type]

    async def claim_budget_alert(self, alert: BudgetAlert) -> bool:
        self.claims += 1
        return await super().claim_budget_alert(alert)


async def delivered(published: list[Envelope], count: int) -> None:
    """Let the in-memory bus deliver what was published (its consumers run on tasks)."""
    for _ in range(200):
        if len(published) >= count:
            return
        await asyncio.sleep(0.01)


def collecting(rig: Rig) -> list[BudgetAlert]:
    alerts: list[BudgetAlert] = []
    rig.gateway.budget_alerts.on_alert(alerts.append)
    return alerts


async def spend(rig: Rig, calls: int, *, prefix: str, **options: object) -> None:
    for n in range(calls):
        await rig.gateway.generate(ask(f"{prefix} question {n}"), tenant_id="acme", **options)  # type: ignore[arg-type]
    await rig.gateway.flush()


async def test_each_threshold_fires_once_per_period_and_again_in_the_next(make_rig: RigFactory) -> None:
    wall = WallClock(NOON)
    rig = make_rig(
        lambda r: "ok", model_prices=PRICE, requests_per_minute=None, daily_budget_usd=1.0, wall_clock=wall
    )
    bus = InMemoryBus()
    published: list[Envelope] = []

    async def on_event(envelope: Envelope) -> None:
        published.append(envelope)

    await bus.subscribe("events.acme.budget.alert", on_event)
    rig.gateway.budget_alerts.bus = bus
    rig.gateway.budget_alerts.audit = rig.audit.write
    alerts = collecting(rig)

    await spend(rig, 3, prefix="day one")
    assert alerts == []
    await spend(rig, 1, prefix="day one, fourth")
    assert [a.threshold for a in alerts] == [0.5]
    await spend(rig, 3, prefix="day one, up to seven")
    assert [a.threshold for a in alerts] == [0.5, 0.8]
    await spend(rig, 1, prefix="day one, eighth")
    assert [a.threshold for a in alerts] == [0.5, 0.8, 1.0]
    with pytest.raises(BudgetExceeded):  # the hard stop stays
        await rig.gateway.generate(ask("day one, ninth"), tenant_id="acme")
    await rig.gateway.flush()
    assert len(alerts) == 3
    assert {a.period_start for a in alerts} == {NOON.replace(hour=0)}
    assert alerts[-1].spent_usd == pytest.approx(1.0) and alerts[-1].budget == "tenant"

    wall.now = NOON + timedelta(days=1)  # a new day: nothing spent, nothing alerted yet
    await spend(rig, 4, prefix="day two")
    assert [a.threshold for a in alerts] == [0.5, 0.8, 1.0, 0.5]
    assert alerts[-1].period_start == NOON.replace(hour=0) + timedelta(days=1)

    stored = await rig.ledger.budget_alerts(tenant="acme")
    assert sorted(a.id for a in stored) == sorted(a.id for a in alerts)
    await delivered(published, 4)
    assert [e.type for e in published] == ["budget.alert"] * 4
    assert [e.payload["threshold"] for e in published] == [0.5, 0.8, 1.0, 0.5]
    audited = await rig.audit.events(tenant="acme", action="budget.alert")
    assert sorted(e.metadata["threshold"] for e in audited) == [0.5, 0.5, 0.8, 1.0]
    assert {e.resource for e in audited} == {"tenant"}
    assert rig.telemetry.counters[ALERT_METRIC] == 4


async def test_no_ledger_round_trip_while_no_threshold_is_reached() -> None:
    ledger = CountingLedger()
    gateway = Gateway(
        llm=FunctionLLM(lambda r: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        config=GatewayConfig(
            default_model="test/model", model_prices=PRICE, daily_budget_usd=1.0, requests_per_minute=None
        ),
        ledger=ledger,
        clock=lambda: 1000.0,  # the cached spend never goes stale
        wall_clock=lambda: NOON,
    )
    alerts: list[BudgetAlert] = []
    gateway.budget_alerts.on_alert(alerts.append)
    for n in range(3):
        await gateway.generate(ask(f"below half {n}"), tenant_id="acme")
    await gateway.flush()
    assert (ledger.spend_queries, ledger.claims) == (1, 0)  # one read, then the local total
    await gateway.generate(ask("half"), tenant_id="acme")
    await gateway.flush()
    assert (ledger.spend_queries, ledger.claims) == (1, 1)
    for n in range(2):
        await gateway.generate(ask(f"between {n}"), tenant_id="acme")
    await gateway.flush()
    assert ledger.claims == 1 and [a.threshold for a in alerts] == [0.5]


async def test_budget_exceeded_shows_the_budget_at_its_own_precision(make_rig: RigFactory) -> None:
    rig = make_rig(lambda r: "ok", model_prices=PRICE, requests_per_minute=None, daily_budget_usd=0.0005)
    await rig.gateway.generate(ask("first"), tenant_id="acme")
    with pytest.raises(BudgetExceeded) as caught:
        await rig.gateway.generate(ask("second"), tenant_id="acme")
    message = str(caught.value)
    assert "$0.0005" in message and "$0.0000" not in message and "$0.1250" in message
    assert caught.value.budget_usd == 0.0005 and caught.value.budget == "tenant"
    assert usd(12.5, like=100) == "$12.50" and usd(0.00012, like=0.00012) == "$0.00012"


async def test_each_user_budget_alerts_per_user_and_a_soft_one_never_stops(make_rig: RigFactory) -> None:
    rule = BudgetRule(period="monthly", limit_usd=0.25, user="*", thresholds=(1.0, 2.0), hard_stop=False)
    rig = make_rig(lambda r: "ok", model_prices=PRICE, requests_per_minute=None, budgets=(rule,))
    alerts = collecting(rig)
    await spend(rig, 4, prefix="alice", user_id="alice")  # $0.50: twice her budget, never refused
    await spend(rig, 1, prefix="bob", user_id="bob")
    await spend(rig, 3, prefix="nobody")  # calls without a user count against no user budget
    assert [(a.budget, a.threshold, a.user_id) for a in alerts] == [
        ("user:alice", 1.0, "alice"),
        ("user:alice", 2.0, "alice"),
    ]
    assert alerts[0].period == "monthly" and alerts[0].period_start == NOON.replace(day=1, hour=0)


async def test_a_model_budget_counts_only_that_models_calls(make_rig: RigFactory) -> None:
    rule = BudgetRule(period="daily", limit_usd=0.25, model="test/other")
    rig = make_rig(lambda r: "ok", model_prices=PRICE, requests_per_minute=None, budgets=(rule,))
    await spend(rig, 5, prefix="default model")
    await rig.gateway.generate(ask("one", model="test/other"), tenant_id="acme")
    await rig.gateway.generate(ask("two", model="test/other"), tenant_id="acme")
    with pytest.raises(BudgetExceeded) as caught:
        await rig.gateway.generate(ask("three", model="test/other"), tenant_id="acme")
    assert caught.value.budget == "model:test/other" and "model:test/other of tenant acme" in str(
        caught.value
    )
    await rig.gateway.generate(ask("still fine"), tenant_id="acme")  # the default model is not limited


class SlowReadLedger(InMemoryUsageLedger):
    """The in-memory ledger whose second spend query answers what it read only when released."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.release = asyncio.Event()

    async def spend(self, **query: object) -> float:  # type: ignore[override]
        self.reads += 1
        value = await super().spend(**query)  # type: ignore[arg-type]
        if self.reads == 2:
            await self.release.wait()
        return value


async def test_a_read_that_started_before_other_calls_were_charged_takes_back_none_of_it() -> None:
    ledger = SlowReadLedger()
    clock = [1000.0]
    gateway = Gateway(
        llm=FunctionLLM(lambda r: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        config=GatewayConfig(
            default_model="test/model", model_prices=PRICE, daily_budget_usd=1.0, requests_per_minute=None
        ),
        ledger=ledger,
        clock=lambda: clock[0],
        wall_clock=lambda: NOON,
    )
    alerts: list[BudgetAlert] = []
    gateway.budget_alerts.on_alert(alerts.append)
    await gateway.generate(ask("first"), tenant_id="acme")  # read 1: $0, then $0.125
    clock[0] += 10  # the total is stale: the next check reads it again
    slow = asyncio.ensure_future(gateway.generate(ask("slow"), tenant_id="acme"))
    for _ in range(1000):  # read 2 has read $0.125 and waits
        if ledger.reads == 2:
            break
        await asyncio.sleep(0)
    assert ledger.reads == 2
    for n in range(5):  # read 3, then the local total: $0.75 while the slow read still holds $0.125
        await gateway.generate(ask(f"meanwhile {n}"), tenant_id="acme")
    ledger.release.set()
    await asyncio.wait_for(slow, timeout=10)  # $0.875
    await gateway.generate(ask("ninth"), tenant_id="acme")  # $1.00
    with pytest.raises(BudgetExceeded):
        await gateway.generate(ask("tenth"), tenant_id="acme")
    await gateway.flush()
    assert [a.threshold for a in alerts] == [0.5, 0.8, 1.0]
