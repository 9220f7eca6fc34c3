"""The resilience step through the gateway: retries with backoff and jitter, fallbacks, breakers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from motadata_ai.domain.gateway import (
    CircuitOpen,
    RetriesExhausted,
)
from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.limits import LocalLimits
from motadata_ai.domain.gateway.steps.resilience import Resilience
from motadata_ai.domain.values.calls import CallOrigin
from motadata_ai.domain.values.llm import ChatRequest, StreamChunk
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.llm import ContextWindowExceeded, ProviderBadRequest, ProviderUnavailable

from .conftest import Rig, ask, failing

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_retries_follow_exponential_backoff_with_jitter(make_rig: RigFactory) -> None:
    rig = make_rig(failing(3), max_retries=3, retry_backoff_base=0.5, retry_jitter=0.5, random=lambda: 1.0)
    response = await rig.gateway.generate(ask("x"), tenant_id="acme")
    assert response.text == "recovered"
    # base * 2**n, times (1 - 0.5 + 2 * 0.5 * 1.0) = 1.5
    assert rig.clock.sleeps == pytest.approx([0.75, 1.5, 3.0])
    await rig.gateway.flush()
    (record,) = await rig.ledger.usage_records(tenant="acme")
    assert record.attempts == 4 and record.outcome == "ok"


async def test_backoff_is_capped_and_jitter_spreads_it(make_rig: RigFactory) -> None:
    rig = make_rig(retry_backoff_base=1.0, retry_backoff_max=4.0, retry_jitter=0.5, random=lambda: 0.0)
    policy = rig.gateway.config
    assert [rig.gateway.backoff(n, policy) for n in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert rig.gateway.backoff(0, policy, retry_after=7.0) == 7.0  # the provider's Retry-After wins


async def test_provider_down_raises_retries_exhausted_listing_attempts_and_charges_nothing(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(failing(100), max_retries=2)
    with pytest.raises(RetriesExhausted) as caught:
        await rig.gateway.generate(ask("x"), tenant_id="acme")
    attempts = caught.value.attempts
    assert [(a["model"], a["attempt"], a["error"]) for a in attempts] == [
        ("test/model", 0, "ProviderUnavailable"),
        ("test/model", 1, "ProviderUnavailable"),
        ("test/model", 2, "ProviderUnavailable"),
    ]
    await rig.gateway.flush()
    (record,) = await rig.ledger.usage_records(tenant="acme")
    assert record.outcome == "error" and record.cost_usd == 0 and record.attempts == 3


async def test_fallback_models_are_tried_in_order(make_rig: RigFactory) -> None:
    def respond(request: ChatRequest) -> str:
        if request.model != "test/third":
            raise ProviderUnavailable("down", model=request.model)
        return "from third"

    rig = make_rig(respond, max_retries=1, fallback_models=("test/second", "test/third"))
    response = await rig.gateway.generate(ask("x"), tenant_id="acme")
    assert response.text == "from third" and response.model == "test/third"
    assert [r.model for r in rig.llm.calls] == [
        "test/model",
        "test/model",
        "test/second",
        "test/second",
        "test/third",
    ]
    # A per-call list replaces the configured one.
    rig.llm.calls.clear()
    with pytest.raises(RetriesExhausted):
        await rig.gateway.generate(ask("y"), tenant_id="acme", fallbacks=["test/second"], max_retries=0)
    assert [r.model for r in rig.llm.calls] == ["test/model", "test/second"]


async def test_bad_request_is_not_retried_and_context_window_errors_fall_back(make_rig: RigFactory) -> None:
    def respond(request: ChatRequest) -> str:
        if request.model == "test/small":
            raise ContextWindowExceeded("too long", model=request.model)
        if request.model == "test/bad":
            raise ProviderBadRequest("nope", model=request.model, status_code=400)
        return "big model"

    rig = make_rig(respond)
    response = await rig.gateway.generate(
        ask("x", model="test/small"), tenant_id="acme", fallbacks=["test/big"]
    )
    assert response.text == "big model"
    with pytest.raises(ProviderBadRequest):
        await rig.gateway.generate(ask("x", model="test/bad"), tenant_id="acme", fallbacks=["test/big"])
    assert sum(1 for r in rig.llm.calls if r.model == "test/bad") == 1


async def test_open_circuit_skips_to_the_fallback_then_raises_circuit_open(make_rig: RigFactory) -> None:
    def respond(request: ChatRequest) -> str:
        if request.model == "test/model":
            raise ProviderUnavailable("down", model=request.model)
        return "fallback"

    rig = make_rig(respond, max_retries=0, circuit_failure_threshold=2, circuit_recovery_timeout=30)
    for n in range(2):
        with pytest.raises(RetriesExhausted):
            await rig.gateway.generate(ask(f"x{n}"), tenant_id="acme")
    health = await rig.gateway.health()
    assert health.breakers == {"cb:test/model": "open"} and health.status == "degraded"
    rig.llm.calls.clear()
    with pytest.raises(CircuitOpen) as caught:
        await rig.gateway.generate(ask("x3"), tenant_id="acme")
    assert rig.llm.calls == [] and caught.value.retry_after == pytest.approx(30)
    response = await rig.gateway.generate(ask("x4"), tenant_id="acme", fallbacks=["test/backup"])
    assert response.text == "fallback" and [r.model for r in rig.llm.calls] == ["test/backup"]


async def test_breaker_half_open_probe_closes_it_after_recovery(make_rig: RigFactory) -> None:
    rig = make_rig(failing(2), max_retries=0, circuit_failure_threshold=2, circuit_recovery_timeout=10)
    for n in range(2):
        with pytest.raises(RetriesExhausted):
            await rig.gateway.generate(ask(f"x{n}"), tenant_id="acme")
    with pytest.raises(CircuitOpen):
        await rig.gateway.generate(ask("x"), tenant_id="acme")
    rig.clock.advance(10)
    response = await rig.gateway.generate(ask("probe"), tenant_id="acme")
    assert response.text == "recovered"
    assert (await rig.gateway.health()).breakers == {}


# --------------------------------------------------------------------------- the step alone


def stream_call(**policy: Any) -> Call:
    """A stream call for the step alone (no gateway around it)."""
    origin = CallOrigin("r1", "acme", "gateway.stream")
    config = GatewayConfig(retry_backoff_base=0.0, retry_jitter=0.0, **policy)
    return Call(TenantContext(tenant_id="acme"), "stream", config, origin, "request", False, 0.0, model="m")


def scripted_stream(plan: list[str]) -> tuple[Any, list[int]]:
    """A ``next`` whose n-th attempt follows ``plan[n]``: ``fail`` before any chunk, ``break``
    after the first chunk, ``ok`` streams two chunks."""
    tries: list[int] = []

    async def next_step(call: Call, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        tries.append(len(tries))
        kind = plan[len(tries) - 1]
        if kind == "fail":
            raise ProviderUnavailable("503 before the first chunk", model=call.model)
        yield StreamChunk(delta="a")
        if kind == "break":
            raise ProviderUnavailable("connection lost mid-stream", model=call.model)
        yield StreamChunk(delta="b", finish_reason="stop")

    return next_step, tries


def resilience() -> Resilience:
    async def no_sleep(seconds: float) -> None:
        return None

    return Resilience(
        LocalLimits(clock=lambda: 0.0), stats=GatewayStats(), sleep=no_sleep, random=lambda: 0.5
    )


async def test_a_stream_is_retried_until_its_first_chunk() -> None:
    next_step, tries = scripted_stream(["fail", "fail", "ok"])
    call = stream_call(max_retries=3)
    chunks = [c.delta async for c in resilience().stream(call, ask("x", model="m"), next_step)]
    assert chunks == ["a", "b"] and len(tries) == 3
    assert [a["error"] for a in call.state.attempts] == ["ProviderUnavailable", "ProviderUnavailable", None]


async def test_a_stream_that_broke_after_its_first_chunk_is_not_retried() -> None:
    next_step, tries = scripted_stream(["break", "ok"])
    received: list[str] = []
    with pytest.raises(ProviderUnavailable):
        async for chunk in resilience().stream(stream_call(max_retries=3), ask("x", model="m"), next_step):
            received.append(chunk.delta)
    assert received == ["a"] and len(tries) == 1
