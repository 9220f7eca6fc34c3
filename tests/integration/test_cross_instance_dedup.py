"""Cross-instance de-duplication on real Valkey (one server and a 3-master cluster): two gateways
with separate in-process state, each with its own Redis clients, share one provider call for 200
identical concurrent requests of a tenant; another tenant's identical request is its own call."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.leases import RedisLeases
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.gateway.shared_flight import SharedFlight
from motadata_ai.domain.gateway.steps.dedup import Deduplicate
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.contracts.bus import eventually

pytestmark = pytest.mark.redis

CONFIG = GatewayConfig(default_model="test/model", requests_per_minute=None, dedup_lease_ttl=5.0)


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


def shared_flight(gateway: Gateway) -> SharedFlight:
    """The gateway's cross-instance de-duplication (on its de-duplication step)."""
    flight = next(s for s in gateway.chain.steps if isinstance(s, Deduplicate)).shared
    assert flight is not None
    return flight


async def two_instances_share_one_call(url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> str:
        await gate.wait()
        return "one answer for all"

    provider = FunctionLLM(slow)  # the one upstream both instances call
    caches = [RedisCache.from_url(url, namespace=namespace, timeout=2.0) for _ in range(2)]
    gateways = [
        Gateway(
            llm=provider, embeddings=HashEmbeddings(dimensions=8), config=CONFIG, cache=cache,
            leases=RedisLeases(cache.client, address=url, namespace=namespace),
        )
        for cache in caches
    ]  # fmt: skip
    try:
        calls = [
            asyncio.ensure_future(
                gateways[i % 2].generate(ask("How do I reset my password?"), tenant_id="acme")
            )
            for i in range(200)
        ]
        other = asyncio.ensure_future(
            gateways[1].generate(ask("How do I reset my password?"), tenant_id="globex")
        )

        flights = [shared_flight(g) for g in gateways]

        def both_instances_in_flight() -> bool:  # one leads acme's call, the other waits for it
            led = sum(f.counters.led for f in flights)  # acme's leader and globex's own call
            return len(provider.calls) >= 2 and led == 2 and sum(f.counters.waited for f in flights) == 1

        await eventually(both_instances_in_flight, within=30, what="one instance leading, the other waiting")
        gate.set()
        results = await asyncio.gather(*calls)
        await other
        assert {r.text for r in results} == {"one answer for all"}
        assert [m.messages[-1].content for m in provider.calls] == ["How do I reset my password?"] * 2
        assert sum(g.stats.dedup_hits for g in gateways) == 199
    finally:
        for gateway in gateways:
            await gateway.aclose()
        for cache in caches:
            await cache.aclose()


async def test_two_instances_on_one_valkey_make_one_provider_call(redis_url: str) -> None:
    await two_instances_share_one_call(redis_url)


async def test_two_instances_on_a_valkey_cluster_make_one_provider_call(redis_cluster_url: str) -> None:
    await two_instances_share_one_call(redis_cluster_url)
