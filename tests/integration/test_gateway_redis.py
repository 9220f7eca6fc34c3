"""The gateway on the real Redis-protocol server: limits, cache and breakers shared by two gateway
instances, and Redis going down mid-run (cache fails open, limits follow their policy)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.gateway import CircuitOpen, Gateway, GatewayConfig, RateLimited, RetriesExhausted
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.ports.llm import ProviderUnavailable
from motadata_ai.testing.servers.redis import ValkeyServer

pytestmark = pytest.mark.redis


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


async def no_sleep(seconds: float) -> None:
    return None


class Instances:
    """Gateway instances that share one Redis namespace, as separate processes would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.namespace = f"gw-{uuid.uuid4().hex}"
        self.closers: list[Any] = []

    def gateway(self, llm: FunctionLLM, **config: Any) -> Gateway:
        cache = RedisCache.from_url(self.url, namespace=self.namespace, connect_timeout=0.5, retries=0)
        limits = RedisLimits.from_url(self.url, namespace=self.namespace)
        self.closers += [cache, limits]
        return Gateway(
            llm=llm,
            embeddings=HashEmbeddings(),
            config=GatewayConfig(default_model="test/model", **config),
            cache=cache,
            limits=limits,
            sleep=no_sleep,
        )


@pytest_asyncio.fixture(loop_scope="session")
async def instances(redis_url: str) -> AsyncIterator[Instances]:
    made = Instances(redis_url)
    yield made
    for closer in made.closers:
        await closer.aclose()


async def test_rate_limit_holds_across_two_gateway_instances(instances: Instances) -> None:
    llm = FunctionLLM(lambda r: "ok")
    one = instances.gateway(llm, requests_per_minute=1, burst_size=4)
    two = instances.gateway(llm, requests_per_minute=1, burst_size=4)
    outcomes = []
    for n, gateway in enumerate([one, two, one, two, one, two]):
        try:
            await gateway.generate(ask(f"q{n}"), tenant_id="acme")
            outcomes.append("ok")
        except RateLimited as error:
            assert error.retry_after > 0
            outcomes.append("limited")
    assert outcomes == ["ok", "ok", "ok", "ok", "limited", "limited"]
    assert len(llm.calls) == 4
    await two.generate(ask("q0"), tenant_id="acme")  # the other instance's answer is a shared cache hit
    assert len(llm.calls) == 4
    await one.generate(ask("q0"), tenant_id="globex")  # another tenant: its own bucket, its own cache
    assert len(llm.calls) == 5


async def test_an_open_circuit_is_shared_between_instances(instances: Instances) -> None:
    def down(request: ChatRequest) -> str:
        raise ProviderUnavailable("down", model=request.model)

    broken = FunctionLLM(down)
    one = instances.gateway(broken, max_retries=0, circuit_failure_threshold=2, circuit_recovery_timeout=60)
    other_llm = FunctionLLM(lambda r: "never")
    two = instances.gateway(
        other_llm, max_retries=0, circuit_failure_threshold=2, circuit_recovery_timeout=60
    )
    for n in range(2):
        with pytest.raises(RetriesExhausted):
            await one.generate(ask(f"x{n}"), tenant_id="acme")
    with pytest.raises(CircuitOpen):
        await two.generate(ask("y"), tenant_id="acme")
    assert other_llm.calls == []
    assert (await two.health()).breakers["cb:test/model"] == "open"


@pytest.mark.parametrize("policy", ["local", "allow", "deny"])
async def test_redis_down_mid_run_cache_fails_open_and_limits_follow_the_policy(
    redis_server_factory: Callable[[], ValkeyServer], policy: str
) -> None:
    server = redis_server_factory()
    instances = Instances(server.url)
    llm = FunctionLLM(lambda r: "answer")
    gateway = instances.gateway(llm, requests_per_minute=1, burst_size=3, limits_failure_policy=policy)
    try:
        await gateway.generate(ask("cached"), tenant_id="acme")
        await gateway.generate(ask("cached"), tenant_id="acme")
        assert len(llm.calls) == 1
        server.stop()
        health = await gateway.health()
        assert health.status == "degraded" and health.cache is False and health.limits is False
        outcomes = []
        for n in range(4):
            try:
                response = await gateway.generate(ask("cached" if n == 0 else f"new{n}"), tenant_id="acme")
                assert not response.cached
                outcomes.append("ok")
            except RateLimited as error:
                outcomes.append("limited:" + ",".join(error.scope))
        if policy == "local":  # in-process buckets with the same limits take over
            assert outcomes == ["ok", "ok", "ok", "limited:req"]
        elif policy == "allow":
            assert outcomes == ["ok", "ok", "ok", "ok"]
        else:
            assert outcomes == ["limited:limits_unavailable"] * 4
        assert gateway.stats.cache_errors > 0 and gateway.stats.limits_errors > 0
    finally:
        for closer in instances.closers:
            await closer.aclose()
