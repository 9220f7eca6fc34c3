"""The gateway pipeline with a scripted model and a fake clock: cache, limits, breaker, retries,
fallbacks, de-duplication, budgets, ledger, feedback, telemetry and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import (
    BudgetExceeded,
    CircuitOpen,
    Gateway,
    GatewayConfig,
    RateLimited,
    RetriesExhausted,
    TenantPolicy,
)
from motadata_ai.domain.values.errors import InvalidTenant, NotFound, ValidationError
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.domain.values.usage import ModelPrice
from motadata_ai.ports.llm import ContextWindowExceeded, ProviderBadRequest, ProviderUnavailable, UnknownModel

from .conftest import NOON, Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


def failing(times: int, then: str = "recovered") -> Callable[[ChatRequest], str]:
    """A responder that fails ``times`` times with ProviderUnavailable, then answers."""
    state = {"left": times}

    def respond(request: ChatRequest) -> str:
        if state["left"] > 0:
            state["left"] -= 1
            raise ProviderUnavailable("upstream 503", model=request.model, status_code=503)
        return then

    return respond


# --------------------------------------------------------------------------- cache


async def test_second_identical_call_is_a_cache_hit_with_no_provider_call(make_rig: RigFactory) -> None:
    rig = make_rig()
    first = await rig.gateway.generate(ask("hello"), tenant="acme")
    second = await rig.gateway.generate(ask("hello"), tenant="acme")
    assert len(rig.llm.calls) == 1
    assert not first.cached and second.cached
    assert second.text == first.text == "ok: hello"
    assert second.id == first.id
    assert rig.gateway.stats.cache_hit_rate == 0.5


async def test_cache_is_tenant_scoped_and_keyed_on_every_parameter(make_rig: RigFactory) -> None:
    rig = make_rig()
    await rig.gateway.generate(ask("hello"), tenant="acme")
    await rig.gateway.generate(ask("hello"), tenant="globex")
    await rig.gateway.generate(ask("hello", temperature=0.2), tenant="acme")
    await rig.gateway.generate(ask("hello", model="test/other"), tenant="acme")
    await rig.gateway.generate(ask("hello", extra={"b": 1, "a": 2}), tenant="acme")
    await rig.gateway.generate(ask("hello", extra={"a": 2, "b": 1}), tenant="acme")  # same extra, other order
    assert len(rig.llm.calls) == 5


async def test_no_cache_ttl_and_tenant_override(make_rig: RigFactory) -> None:
    rig = make_rig(tenants={"nocache": TenantPolicy(enable_caching=False)})
    await rig.gateway.generate(ask("a"), tenant="acme", ttl=10)
    await rig.gateway.generate(ask("a"), tenant="acme", no_cache=True)
    assert len(rig.llm.calls) == 2
    rig.clock.advance(11)  # the entry expired
    await rig.gateway.generate(ask("a"), tenant="acme")
    assert len(rig.llm.calls) == 3
    await rig.gateway.generate(ask("a"), tenant="nocache")
    await rig.gateway.generate(ask("a"), tenant="nocache")
    assert len(rig.llm.calls) == 5


async def test_errors_are_never_cached(make_rig: RigFactory) -> None:
    rig = make_rig(failing(4), max_retries=0)
    with pytest.raises(RetriesExhausted):
        await rig.gateway.generate(ask("x"), tenant="acme")
    assert len(rig.cache) == 0


async def test_stream_is_cached_and_replayed_as_a_stream(make_rig: RigFactory) -> None:
    rig = make_rig(lambda r: "one two three")
    first = [c async for c in rig.gateway.stream(ask("s"), tenant="acme")]
    second = [c async for c in rig.gateway.stream(ask("s"), tenant="acme")]
    assert len(rig.llm.calls) == 1
    assert "".join(c.delta for c in first) == "".join(c.delta for c in second) == "one two three"
    assert [c.delta for c in second[:-1]] == ["one", " two", " three"]
    assert second[-1].finish_reason == "stop" and second[-1].usage is not None
    # A completed stream also answers a plain generate.
    response = await rig.gateway.generate(ask("s"), tenant="acme")
    assert response.cached and response.text == "one two three"


async def test_semantic_cache_answers_a_near_duplicate_of_the_same_tenant_only(make_rig: RigFactory) -> None:
    rig = make_rig(semantic_cache=True, semantic_cache_threshold=0.8)
    await rig.gateway.generate(ask("how do I reset my VPN password please"), tenant="acme")
    near = await rig.gateway.generate(ask("how do I reset my VPN password"), tenant="acme")
    assert near.cached and len(rig.llm.calls) == 1
    await rig.gateway.generate(ask("how do I reset my VPN password"), tenant="globex")
    assert len(rig.llm.calls) == 2
    await rig.gateway.generate(ask("printer on floor three is jammed"), tenant="acme")
    assert len(rig.llm.calls) == 3
    assert rig.gateway.stats.semantic_hits == 1
    assert 0 < rig.gateway.stats.semantic_hit_rate < 1


# --------------------------------------------------------------------------- de-duplication


async def test_100_identical_concurrent_calls_make_one_provider_call(make_rig: RigFactory) -> None:
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> str:
        await gate.wait()
        return "shared"

    rig = make_rig(slow, burst_size=1000, requests_per_minute=6000)
    calls = [asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant="acme")) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*calls)
    assert len(rig.llm.calls) == 1
    assert {r.text for r in results} == {"shared"}
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme", limit=1000)
    assert len(records) == 100
    assert sum(1 for r in records if r.source == "provider") == 1
    assert sum(1 for r in records if r.source == "dedup") == 99


async def test_followers_share_the_leaders_error(make_rig: RigFactory) -> None:
    gate = asyncio.Event()

    async def broken(request: ChatRequest) -> str:
        await gate.wait()
        raise ProviderBadRequest("bad prompt", model=request.model, status_code=400)

    rig = make_rig(broken, burst_size=100, requests_per_minute=6000, max_retries=0)
    calls = [asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant="acme")) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert len(rig.llm.calls) == 1
    assert all(isinstance(o, ProviderBadRequest) for o in outcomes)


async def test_a_cancelled_leader_hands_over_to_a_follower(make_rig: RigFactory) -> None:
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> str:
        await gate.wait()
        return "answer"

    rig = make_rig(slow, burst_size=100, requests_per_minute=6000)
    leader = asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant="acme"))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant="acme"))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert (await follower).text == "answer"
    assert leader.cancelled()
    assert len(rig.llm.calls) == 2  # the follower ran the call itself once the leader was gone


async def test_deduplication_never_crosses_tenants(make_rig: RigFactory) -> None:
    rig = make_rig(llm=FunctionLLM(lambda r: "x", delay=0.01))
    await asyncio.gather(*(rig.gateway.generate(ask("same"), tenant=t) for t in ("a", "b", "a", "b")))
    assert len(rig.llm.calls) == 2


# --------------------------------------------------------------------------- retries, fallbacks, breaker


async def test_retries_follow_exponential_backoff_with_jitter(make_rig: RigFactory) -> None:
    rig = make_rig(failing(3), max_retries=3, retry_backoff_base=0.5, retry_jitter=0.5, random=lambda: 1.0)
    response = await rig.gateway.generate(ask("x"), tenant="acme")
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
        await rig.gateway.generate(ask("x"), tenant="acme")
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
    response = await rig.gateway.generate(ask("x"), tenant="acme")
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
        await rig.gateway.generate(ask("y"), tenant="acme", fallbacks=["test/second"], max_retries=0)
    assert [r.model for r in rig.llm.calls] == ["test/model", "test/second"]


async def test_bad_request_is_not_retried_and_context_window_errors_fall_back(make_rig: RigFactory) -> None:
    def respond(request: ChatRequest) -> str:
        if request.model == "test/small":
            raise ContextWindowExceeded("too long", model=request.model)
        if request.model == "test/bad":
            raise ProviderBadRequest("nope", model=request.model, status_code=400)
        return "big model"

    rig = make_rig(respond)
    response = await rig.gateway.generate(ask("x", model="test/small"), tenant="acme", fallbacks=["test/big"])
    assert response.text == "big model"
    with pytest.raises(ProviderBadRequest):
        await rig.gateway.generate(ask("x", model="test/bad"), tenant="acme", fallbacks=["test/big"])
    assert sum(1 for r in rig.llm.calls if r.model == "test/bad") == 1


async def test_open_circuit_skips_to_the_fallback_then_raises_circuit_open(make_rig: RigFactory) -> None:
    def respond(request: ChatRequest) -> str:
        if request.model == "test/model":
            raise ProviderUnavailable("down", model=request.model)
        return "fallback"

    rig = make_rig(respond, max_retries=0, circuit_failure_threshold=2, circuit_recovery_timeout=30)
    for n in range(2):
        with pytest.raises(RetriesExhausted):
            await rig.gateway.generate(ask(f"x{n}"), tenant="acme")
    health = await rig.gateway.health()
    assert health.breakers == {"cb:test/model": "open"} and health.status == "degraded"
    rig.llm.calls.clear()
    with pytest.raises(CircuitOpen) as caught:
        await rig.gateway.generate(ask("x3"), tenant="acme")
    assert rig.llm.calls == [] and caught.value.retry_after == pytest.approx(30)
    response = await rig.gateway.generate(ask("x4"), tenant="acme", fallbacks=["test/backup"])
    assert response.text == "fallback" and [r.model for r in rig.llm.calls] == ["test/backup"]


async def test_breaker_half_open_probe_closes_it_after_recovery(make_rig: RigFactory) -> None:
    rig = make_rig(failing(2), max_retries=0, circuit_failure_threshold=2, circuit_recovery_timeout=10)
    for n in range(2):
        with pytest.raises(RetriesExhausted):
            await rig.gateway.generate(ask(f"x{n}"), tenant="acme")
    with pytest.raises(CircuitOpen):
        await rig.gateway.generate(ask("x"), tenant="acme")
    rig.clock.advance(10)
    response = await rig.gateway.generate(ask("probe"), tenant="acme")
    assert response.text == "recovered"
    assert (await rig.gateway.health()).breakers == {}


# --------------------------------------------------------------------------- rate limits


async def test_rate_limit_refuses_after_the_burst_and_refills(make_rig: RigFactory) -> None:
    rig = make_rig(requests_per_minute=60, burst_size=3)
    for n in range(3):
        await rig.gateway.generate(ask(f"q{n}"), tenant="acme")
    with pytest.raises(RateLimited) as caught:
        await rig.gateway.generate(ask("q3"), tenant="acme")
    assert caught.value.retry_after == pytest.approx(1.0)
    assert caught.value.tenant_id == "acme" and caught.value.scope == ["req"]
    await rig.gateway.generate(ask("q0"), tenant="acme")  # a cache hit takes no token
    await rig.gateway.generate(ask("q0"), tenant="globex")  # another tenant has its own bucket
    rig.clock.advance(1.0)
    await rig.gateway.generate(ask("q4"), tenant="acme")
    assert len(rig.llm.calls) == 5


async def test_wait_mode_queues_the_call_instead_of_raising(make_rig: RigFactory) -> None:
    rig = make_rig(requests_per_minute=60, burst_size=1, rate_limit_wait=True, rate_limit_max_wait=5)
    await rig.gateway.generate(ask("a"), tenant="acme")
    await rig.gateway.generate(ask("b"), tenant="acme")
    assert rig.clock.sleeps == pytest.approx([1.0])
    with pytest.raises(RateLimited):
        await rig.gateway.generate(ask("c"), tenant="acme", wait=False)


async def test_per_model_and_token_buckets(make_rig: RigFactory) -> None:
    rig = make_rig(
        requests_per_minute=600,
        burst_size=100,
        model_requests_per_minute=60,
        model_burst_size=1,
        tokens_per_minute=600,
    )
    await rig.gateway.generate(ask("a"), tenant="acme")
    with pytest.raises(RateLimited) as caught:
        await rig.gateway.generate(ask("b"), tenant="acme")
    assert caught.value.scope == ["model_req"]
    await rig.gateway.generate(ask("b", model="test/other"), tenant="acme")
    with pytest.raises(RateLimited) as tokens:
        await rig.gateway.generate(
            ask("x" * 4000, model="test/third"), tenant="acme"
        )  # ~1000 tokens > 600 left
    assert "tok" in tokens.value.scope


async def test_tenant_policy_overrides_limits(make_rig: RigFactory) -> None:
    rig = make_rig(burst_size=1, tenants={"vip": TenantPolicy(burst_size=5)})
    for n in range(5):
        await rig.gateway.generate(ask(f"v{n}"), tenant="vip")
    await rig.gateway.generate(ask("n0"), tenant="normal")
    with pytest.raises(RateLimited):
        await rig.gateway.generate(ask("n1"), tenant="normal")
    rig.gateway.set_tenant_policy("normal", TenantPolicy(requests_per_minute=0))
    await rig.gateway.generate(ask("n1"), tenant="normal")


# --------------------------------------------------------------------------- budgets, ledger, feedback


async def test_budget_stops_calls_before_the_provider(make_rig: RigFactory) -> None:
    price = ModelPrice(input_per_token=0.001, output_per_token=0.002)
    rig = make_rig(model_prices={"test/model": price}, daily_budget_usd=0.01)
    spent = 0.0
    while True:
        try:
            response = await rig.gateway.generate(ask(f"question number {len(rig.llm.calls)}"), tenant="acme")
        except BudgetExceeded as error:
            assert error.period == "daily" and error.budget_usd == 0.01 and error.spent_usd >= 0.01
            break
        spent += response.cost_usd
        assert response.cost_usd > 0
    calls = len(rig.llm.calls)
    with pytest.raises(BudgetExceeded):
        await rig.gateway.generate(ask("another"), tenant="acme")
    assert len(rig.llm.calls) == calls
    await rig.gateway.generate(ask("another"), tenant="globex")  # other tenants are unaffected
    assert await rig.ledger.spend(
        tenant="acme", since=NOON.replace(hour=0)
    ) == pytest.approx(spent)


async def test_ledger_records_cost_latency_cache_hits_and_savings(make_rig: RigFactory) -> None:
    rig = make_rig(model_prices={"test/model": ModelPrice(input_per_token=0.01, output_per_token=0.02)})
    first = await rig.gateway.generate(ask("hello"), tenant="acme", user_id="u1")
    await rig.gateway.generate(ask("hello"), tenant="acme", user_id="u2")
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
    rig = make_rig()
    rig.gateway._feedback_hook = lambda record, response: seen.append((record.outcome, response))
    response = await rig.gateway.generate(ask("hello"), tenant="acme")
    feedback = await rig.gateway.record_feedback(
        response.id, tenant="acme", rating=5, comment="great", user_id="u"
    )
    assert (await rig.ledger.feedback(tenant="acme", response_id=response.id)) == [feedback]
    with pytest.raises(NotFound):
        await rig.gateway.record_feedback(response.id, tenant="globex", rating=1)
    with pytest.raises(ValidationError):
        await rig.gateway.record_feedback(response.id, tenant="acme", rating=9)
    await rig.gateway.flush()
    assert seen and seen[0][0] == "ok" and seen[0][1].id == response.id


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("request_factory", "field"),
    [
        (lambda: ChatRequest(model="test/model", messages=()), "messages"),
        (lambda: ask("x", temperature=-0.1), "temperature"),
        (lambda: ask("x", temperature=9.0), "temperature"),
        (lambda: ask("x", top_p=0.0), "top_p"),
        (lambda: ask("x", max_tokens=0), "max_tokens"),
        (lambda: ask("x", max_tokens=10**9), "max_tokens"),
        (lambda: ask("x", seed=-1), "seed"),
    ],
)
async def test_bad_input_is_refused_before_any_provider_call(
    make_rig: RigFactory, request_factory: Callable[[], ChatRequest], field: str
) -> None:
    rig = make_rig()
    with pytest.raises(ValidationError) as caught:
        await rig.gateway.generate(request_factory(), tenant="acme")
    assert caught.value.field == field
    assert rig.llm.calls == []


async def test_bad_call_options_tenant_and_level_are_refused(make_rig: RigFactory) -> None:
    rig = make_rig()
    with pytest.raises(InvalidTenant):
        await rig.gateway.generate(ask("x"), tenant="bad tenant!")
    for options in ({"ttl": -1}, {"max_retries": 99}, {"timeout": 0}, {"validation_level": "paranoid"}):
        with pytest.raises(ValidationError):
            await rig.gateway.generate(ask("x"), tenant="acme", **options)
    with pytest.raises(ValidationError):
        await rig.gateway.embed([], tenant="acme")
    with pytest.raises(ValidationError):
        await rig.gateway.embed("one string", tenant="acme")  # type: ignore[arg-type]
    assert rig.llm.calls == [] and rig.embeddings.calls == []


async def test_unknown_model_and_oversized_prompt_are_refused_before_the_provider(
    make_rig: RigFactory,
) -> None:
    class SmallWindow(FunctionLLM):
        def context_window(self, model: str) -> int | None:
            return 100

    rig = make_rig(llm=SmallWindow(lambda r: "x"), allowed_models=("test/model",))
    with pytest.raises(UnknownModel) as unknown:
        await rig.gateway.generate(ask("x", model="nope/model"), tenant="acme")
    assert unknown.value.available == ["test/model"]
    with pytest.raises(ContextWindowExceeded) as too_big:
        await rig.gateway.generate(ask("word " * 500), tenant="acme")
    assert too_big.value.context_window == 100 and too_big.value.prompt_tokens > 100
    with pytest.raises(ContextWindowExceeded):
        await rig.gateway.generate(ask("short", max_tokens=200), tenant="acme")
    assert rig.llm.calls == []
    await rig.gateway.generate(ask("short", max_tokens=20), tenant="acme")


# --------------------------------------------------------------------------- embeddings, telemetry, health


async def test_embed_is_cached_per_tenant_and_recorded(make_rig: RigFactory) -> None:
    rig = make_rig()
    first = await rig.gateway.embed(["alpha", "beta"], tenant="acme")
    second = await rig.gateway.embed(["alpha", "beta"], tenant="acme")
    await rig.gateway.embed(["alpha", "beta"], tenant="globex")
    assert len(rig.embeddings.calls) == 2
    assert second.cached and second.vectors == first.vectors and len(first.vectors) == 2
    assert first.model == "local/all-minilm-l6-v2"
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme")
    assert {r.operation for r in records} == {"embeddings"} and len(records) == 2


async def test_telemetry_follows_the_genai_conventions(make_rig: RigFactory) -> None:
    rig = make_rig()
    await rig.gateway.generate(ask("hello"), tenant="acme")
    await rig.gateway.generate(ask("hello"), tenant="acme")
    await rig.gateway.embed(["x"], tenant="acme")
    miss, hit, embed = rig.telemetry.spans
    assert miss.name == "chat test/model" and embed.name == "embeddings local/all-minilm-l6-v2"
    assert miss.attributes["gen_ai.operation.name"] == "chat"
    assert miss.attributes["gen_ai.provider.name"] == "function"
    assert miss.attributes["gen_ai.request.model"] == "test/model"
    assert miss.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert (
        miss.attributes["gen_ai.usage.input_tokens"] > 0 and miss.attributes["gen_ai.usage.output_tokens"] > 0
    )
    assert miss.attributes["motadata.tenant.id"] == "acme"
    assert miss.attributes["motadata.cache.hit"] is False and hit.attributes["motadata.cache.hit"] is True
    names = {name for name, _, _ in rig.telemetry.histograms}
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= names
    token_types = {
        a["gen_ai.token.type"] for n, _, a in rig.telemetry.histograms if n == "gen_ai.client.token.usage"
    }
    assert token_types == {"input", "output"}
    assert rig.telemetry.counters["motadata.gateway.cache.hits"] == 1


async def test_health_reports_reachability(make_rig: RigFactory) -> None:
    rig = make_rig()
    health = await rig.gateway.health()
    assert health.status == "ok" and health.cache and health.ledger and health.limits


async def test_minimal_gateway_needs_only_the_model_ports() -> None:
    llm = FunctionLLM(lambda r: "plain")
    from motadata_ai.adapters.memory.embedding import HashEmbeddings

    gateway = Gateway(llm=llm, embeddings=HashEmbeddings(), default_model="m", default_embedding_model="e")
    response = await gateway.generate(ask("x", model="m"), tenant="acme")
    assert response.text == "plain"
    chunks = [c.delta async for c in gateway.stream(ask("x", model="m"), tenant="acme")]
    assert chunks[0] == "plain"
    assert len((await gateway.embed(["a"], tenant="acme")).vectors) == 1
    assert gateway.config.requests_per_minute == 60 and gateway.config.max_retries == 3
    assert GatewayConfig().validation_level == "medium"
