"""The rate-limit step through the gateway: bursts, refills, waiting, model and token buckets,
tenant overrides."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from motadata_ai.domain.gateway import (
    RateLimited,
    TenantPolicy,
)

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_rate_limit_refuses_after_the_burst_and_refills(make_rig: RigFactory) -> None:
    rig = make_rig(requests_per_minute=60, burst_size=3)
    for n in range(3):
        await rig.gateway.generate(ask(f"q{n}"), tenant_id="acme")
    with pytest.raises(RateLimited) as caught:
        await rig.gateway.generate(ask("q3"), tenant_id="acme")
    assert caught.value.retry_after == pytest.approx(1.0)
    assert caught.value.tenant_id == "acme" and caught.value.scope == ["req"]
    await rig.gateway.generate(ask("q0"), tenant_id="acme")  # a cache hit takes no token
    await rig.gateway.generate(ask("q0"), tenant_id="globex")  # another tenant has its own bucket
    rig.clock.advance(1.0)
    await rig.gateway.generate(ask("q4"), tenant_id="acme")
    assert len(rig.llm.calls) == 5


async def test_wait_mode_queues_the_call_instead_of_raising(make_rig: RigFactory) -> None:
    rig = make_rig(requests_per_minute=60, burst_size=1, rate_limit_wait=True, rate_limit_max_wait=5)
    await rig.gateway.generate(ask("a"), tenant_id="acme")
    await rig.gateway.generate(ask("b"), tenant_id="acme")
    assert rig.clock.sleeps == pytest.approx([1.0])
    with pytest.raises(RateLimited):
        await rig.gateway.generate(ask("c"), tenant_id="acme", wait=False)


async def test_per_model_and_token_buckets(make_rig: RigFactory) -> None:
    rig = make_rig(
        requests_per_minute=600,
        burst_size=100,
        model_requests_per_minute=60,
        model_burst_size=1,
        tokens_per_minute=600,
    )
    await rig.gateway.generate(ask("a"), tenant_id="acme")
    with pytest.raises(RateLimited) as caught:
        await rig.gateway.generate(ask("b"), tenant_id="acme")
    assert caught.value.scope == ["model_req"]
    await rig.gateway.generate(ask("b", model="test/other"), tenant_id="acme")
    with pytest.raises(RateLimited) as tokens:
        await rig.gateway.generate(
            ask("x" * 4000, model="test/third"), tenant_id="acme"
        )  # ~1000 tokens > 600 left
    assert "tok" in tokens.value.scope


async def test_tenant_policy_overrides_limits(make_rig: RigFactory) -> None:
    rig = make_rig(burst_size=1, tenants={"vip": TenantPolicy(burst_size=5)})
    for n in range(5):
        await rig.gateway.generate(ask(f"v{n}"), tenant_id="vip")
    await rig.gateway.generate(ask("n0"), tenant_id="normal")
    with pytest.raises(RateLimited):
        await rig.gateway.generate(ask("n1"), tenant_id="normal")
    rig.gateway.set_tenant_policy("normal", TenantPolicy(requests_per_minute=0))
    await rig.gateway.generate(ask("n1"), tenant_id="normal")
