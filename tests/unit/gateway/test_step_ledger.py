"""The ledger step through the gateway: one usage record per call (cost, savings), feedback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from motadata_ai.domain.values.errors import NotFound, ValidationError
from motadata_ai.domain.values.usage import ModelPrice

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_ledger_records_cost_latency_cache_hits_and_savings(make_rig: RigFactory) -> None:
    rig = make_rig(model_prices={"test/model": ModelPrice(input_per_token=0.01, output_per_token=0.02)})
    first = await rig.gateway.generate(ask("hello"), tenant_id="acme", user_id="u1")
    await rig.gateway.generate(ask("hello"), tenant_id="acme", user_id="u2")
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme")
    provider = [r for r in records if r.source == "provider"]
    hits = [r for r in records if r.source == "cache"]
    assert len(provider) == 1 and len(hits) == 1
    assert provider[0].cost_usd == pytest.approx(first.cost_usd) and first.cost_usd > 0
    assert provider[0].user_id == "u1" and provider[0].input_tokens == first.usage.input_tokens
    assert hits[0].cost_usd == 0 and hits[0].saved_usd == pytest.approx(first.cost_usd)
    savings = await rig.ledger.cache_savings(tenant="acme")
    assert savings.hits == 1 and savings.calls == 2 and savings.hit_rate == 0.5
    (by_model,) = await rig.ledger.usage_by_model(tenant="acme")
    assert (
        by_model.model == "test/model"
        and by_model.calls == 2
        and by_model.cost_usd == pytest.approx(first.cost_usd)
    )


async def test_feedback_is_recorded_against_a_response_of_the_same_tenant(make_rig: RigFactory) -> None:
    seen: list[Any] = []
    rig = make_rig(feedback_hook=lambda record, response: seen.append((record.outcome, response)))
    response = await rig.gateway.generate(ask("hello"), tenant_id="acme")
    feedback = await rig.gateway.record_feedback(
        response.id, tenant_id="acme", rating=5, comment="great", user_id="u"
    )
    assert (await rig.ledger.feedback(tenant="acme", response_id=response.id)) == [feedback]
    with pytest.raises(NotFound):
        await rig.gateway.record_feedback(response.id, tenant_id="globex", rating=1)
    with pytest.raises(ValidationError):
        await rig.gateway.record_feedback(response.id, tenant_id="acme", rating=9)
    await rig.gateway.flush()
    assert seen and seen[0][0] == "ok" and seen[0][1].id == response.id
