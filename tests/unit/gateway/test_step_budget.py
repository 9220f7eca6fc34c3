"""The budget step through the gateway: a tenant over its budget is refused before the provider."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from motadata_ai.domain.gateway import (
    BudgetExceeded,
)
from motadata_ai.domain.values.usage import ModelPrice

from .conftest import NOON, Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_budget_stops_calls_before_the_provider(make_rig: RigFactory) -> None:
    price = ModelPrice(input_per_token=0.001, output_per_token=0.002)
    rig = make_rig(model_prices={"test/model": price}, daily_budget_usd=0.01)
    spent = 0.0
    while True:
        try:
            response = await rig.gateway.generate(
                ask(f"question number {len(rig.llm.calls)}"), tenant_id="acme"
            )
        except BudgetExceeded as error:
            assert error.period == "daily" and error.budget_usd == 0.01 and error.spent_usd >= 0.01
            break
        spent += response.cost_usd
        assert response.cost_usd > 0
    calls = len(rig.llm.calls)
    with pytest.raises(BudgetExceeded):
        await rig.gateway.generate(ask("another"), tenant_id="acme")
    assert len(rig.llm.calls) == calls
    await rig.gateway.generate(ask("another"), tenant_id="globex")  # other tenants are unaffected
    assert await rig.ledger.spend(tenant="acme", since=NOON.replace(hour=0)) == pytest.approx(spent)
