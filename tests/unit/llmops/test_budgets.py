"""ai.budgets over a gateway and an in-memory ledger: set, get, bad values, alerts and callbacks."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import BudgetExceeded, Gateway, GatewayConfig
from motadata_ai.domain.gateway.budgets import BudgetRule
from motadata_ai.domain.llmops.budgets import Budgets
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.usage import BudgetAlert, ModelPrice
from motadata_ai.settings import Settings

NOON = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def build() -> tuple[Gateway, Budgets]:
    ledger = InMemoryUsageLedger()
    gateway = Gateway(
        llm=FunctionLLM(lambda r: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        config=GatewayConfig(
            default_model="test/model",
            model_prices={"test/model": ModelPrice(output_per_token=0.25)},
            requests_per_minute=None,
            monthly_budget_usd=100.0,
        ),
        ledger=ledger,
        wall_clock=lambda: NOON,
    )
    return gateway, Budgets(gateway, ledger)


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


async def test_set_get_and_the_alerts_of_a_tenant() -> None:
    gateway, budgets = build()
    seen: list[BudgetAlert] = []
    unregister = budgets.on_alert(seen.append)
    effective = budgets.set("acme", daily_usd=1.0, thresholds=(0.75, 0.5))
    assert (effective.daily_usd, effective.monthly_usd, effective.thresholds) == (1.0, 100.0, (0.5, 0.75))
    assert budgets.get("globex").daily_usd is None  # another tenant keeps the gateway-wide values
    for n in range(4):
        await gateway.generate(ask(f"q{n}"), tenant_id="acme")
    with pytest.raises(BudgetExceeded):
        await gateway.generate(ask("one too many"), tenant_id="acme")
    alerts = await budgets.alerts("acme")
    assert sorted(a.threshold for a in alerts) == [0.5, 0.75]
    assert sorted(a.threshold for a in seen) == [0.5, 0.75]
    unregister()
    budgets.set("acme", daily_usd=2.0)
    await gateway.generate(ask("more"), tenant_id="acme")
    await gateway.flush()
    assert len(seen) == 2  # unregistered
    assert len(await budgets.alerts("acme")) == 2  # each threshold once a period, whatever the limit
    assert await budgets.alerts("globex") == []


@pytest.mark.parametrize(
    "values",
    [
        {"daily_usd": -1.0},
        {"monthly_usd": math.nan},
        {"daily_usd": math.inf},
        {"thresholds": (0.5, -0.2)},
        {"thresholds": (math.nan,)},
        {"rules": ({"period": "daily", "limit_usd": -5},)},
        {"rules": ({"period": "weekly", "limit_usd": 5},)},
    ],
)
async def test_a_bad_budget_or_threshold_is_a_configuration_error(values: dict[str, object]) -> None:
    gateway, budgets = build()
    with pytest.raises(ConfigurationError):
        budgets.set("acme", **values)  # type: ignore[arg-type]
    assert gateway.config.tenants == {}


def test_bad_budgets_in_settings_and_in_rules_are_typed_errors() -> None:
    for gateway in (
        {"daily_budget_usd": "nan"},
        {"budget_alert_thresholds": [0.5, -1]},
        {"budgets": [{"period": "daily", "limit_usd": -1}]},
        {"tenants": {"acme": {"monthly_budget_usd": -3}}},
        {"experiments": [{"name": "x", "champion_model": "a", "challenger_model": "b", "share": 2}]},
    ):
        with pytest.raises(ConfigurationError):
            Settings(profile="memory", gateway=gateway)
    with pytest.raises(ValidationError):
        BudgetRule(period="daily", limit_usd=float("nan"))
    with pytest.raises(ValidationError):
        BudgetRule(period="daily", limit_usd=1, thresholds=(0.0,))
