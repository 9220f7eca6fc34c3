"""kill -9 of the instance leading a cross-instance de-duplicated call: a waiting instance takes
over once the lease expires, and every caller gets an answer.

Process A (``dedup_leader_process``) takes the lease on a request's key and starts a provider call
that never ends. This process then sends 50 identical requests through its own gateway: they wait
for A's answer. A is killed with SIGKILL; its lease is no longer extended, expires, and this
instance's in-process leader takes it and calls the provider itself: one call here, 50 answers.
A lease store that is down makes each instance call the provider (fail open), never an error.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.leases import RedisLeases
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.gateway.steps.dedup import Deduplicate
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.contracts.bus import eventually

from .dedup_leader_process import PROMPT

pytestmark = [pytest.mark.faults, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
LEASE_TTL = 1.0


def ask() -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=PROMPT),))


def gateway_on(url: str, namespace: str, provider: FunctionLLM) -> tuple[Gateway, RedisCache]:
    cache = RedisCache.from_url(url, namespace=namespace, timeout=2.0)
    config = GatewayConfig(default_model="test/model", requests_per_minute=None, dedup_lease_ttl=LEASE_TTL)
    leases = RedisLeases(cache.client, address=url, namespace=namespace)
    gateway = Gateway(
        llm=provider, embeddings=HashEmbeddings(dimensions=8), config=config, cache=cache, leases=leases
    )
    return gateway, cache


def start_leader(url: str, namespace: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.faults.dedup_leader_process", url, namespace, str(LEASE_TTL)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


async def test_a_follower_takes_over_when_the_leader_is_killed(redis_url: str) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    leader = start_leader(redis_url, namespace)
    provider = FunctionLLM(lambda request: "answered here")
    gateway, cache = gateway_on(redis_url, namespace, provider)
    try:
        assert leader.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(leader.stdout.readline), 60)
        assert line.strip() == "leading"
        calls = [asyncio.ensure_future(gateway.generate(ask(), tenant_id="acme")) for _ in range(50)]
        flight = next(s for s in gateway.chain.steps if isinstance(s, Deduplicate)).shared
        assert flight is not None
        await eventually(lambda: flight.counters.waited > 0, within=30, what="waiting for A's answer")
        await asyncio.sleep(LEASE_TTL * 1.5)  # A keeps its lease alive: nobody here calls
        assert provider.calls == [] and not any(c.done() for c in calls)
        leader.kill()
        leader.wait(timeout=10)
        results = await asyncio.wait_for(asyncio.gather(*calls), 30)
        assert {r.text for r in results} == {"answered here"}
        assert len(provider.calls) == 1
        assert flight.counters.took_over == 1
    finally:
        if leader.poll() is None:
            leader.kill()
        await gateway.aclose()
        await cache.aclose()


async def test_a_lease_store_that_is_down_fails_open() -> None:
    provider = FunctionLLM(lambda request: "still answered")
    gateway, cache = gateway_on("redis://127.0.0.1:1/0", f"test-{uuid.uuid4().hex}", provider)
    try:
        results = await asyncio.gather(*(gateway.generate(ask(), tenant_id="acme") for _ in range(10)))
        assert {r.text for r in results} == {"still answered"}
        assert len(provider.calls) == 1  # in-process de-duplication still holds
    finally:
        await gateway.aclose()
        await cache.aclose()
