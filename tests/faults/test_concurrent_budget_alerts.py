"""Many concurrent calls on several instances cross a budget's thresholds: one alert each.

Four gateways (four app instances) share one PostgreSQL ledger and one bus. Each re-reads the
tenant's spend before every call (``budget_refresh_seconds=0``), so every instance sees the
thresholds crossed and tries to raise the alerts; the ledger's atomic claim lets one win per
threshold, so each threshold reaches the callbacks, the bus and the ledger exactly once.
"""

from __future__ import annotations

import asyncio

import pytest

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.ledger import PostgresUsageLedger
from motadata_ai.domain.gateway import BudgetExceeded, Gateway, GatewayConfig
from motadata_ai.domain.gateway.budget_alerts import BudgetAlerts
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.usage import BudgetAlert, ModelPrice

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

INSTANCES = 4
CALLS_PER_INSTANCE = 12


async def slow_answer(request: ChatRequest) -> str:
    await asyncio.sleep(0.005)  # calls of every instance interleave
    return "ok"


async def test_concurrent_calls_on_several_instances_raise_each_alert_once(
    pg_isolated_database: PostgresDatabase,
) -> None:
    bus = InMemoryBus()
    published: list[Envelope] = []

    async def on_event(envelope: Envelope) -> None:
        published.append(envelope)

    await bus.subscribe("events.acme.budget.alert", on_event)
    config = GatewayConfig(
        default_model="test/model",
        model_prices={"test/model": ModelPrice(output_per_token=0.125)},
        daily_budget_usd=1.0,
        budget_refresh_seconds=0,
        requests_per_minute=None,
        enable_caching=False,
    )
    received: list[BudgetAlert] = []
    gateways = []
    for _ in range(INSTANCES):
        ledger = PostgresUsageLedger(pg_isolated_database)
        alerts = BudgetAlerts(ledger=ledger, bus=bus)
        alerts.on_alert(received.append)
        gateways.append(
            Gateway(
                llm=FunctionLLM(slow_answer),
                embeddings=HashEmbeddings(dimensions=8),
                config=config,
                ledger=ledger,
                budget_alerts=alerts,
            )
        )

    async def instance(gateway: Gateway, number: int) -> int:
        async def one(n: int) -> int:
            request = ChatRequest(
                model="test/model", messages=(Message(role="user", content=f"instance {number} call {n}"),)
            )
            try:
                await gateway.generate(request, tenant_id="acme")
            except BudgetExceeded:
                return 0
            return 1

        return sum(await asyncio.gather(*(one(n) for n in range(CALLS_PER_INSTANCE))))

    answered = sum(await asyncio.gather(*(instance(g, i) for i, g in enumerate(gateways))))
    for gateway in gateways:
        await gateway.flush()

    assert answered >= 8  # the budget was spent (and concurrent calls overshot it, as they may)
    assert sorted(a.threshold for a in received) == [0.5, 0.8, 1.0]
    for _ in range(200):  # the in-memory bus delivers on tasks
        if len(published) >= 3:
            break
        await asyncio.sleep(0.01)
    assert sorted(e.payload["threshold"] for e in published) == [0.5, 0.8, 1.0]
    stored = await PostgresUsageLedger(pg_isolated_database).budget_alerts(tenant="acme")
    assert sorted(a.threshold for a in stored) == [0.5, 0.8, 1.0]
    assert len({(a.budget, a.period, a.period_start) for a in stored}) == 1
