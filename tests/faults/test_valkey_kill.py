"""kill -9 of Valkey under gateway load: no call fails, the limits follow their failure policy.

The gateway runs with a Redis-backed cache and Redis-backed limits (buckets and breakers) against a
private ``valkey-server`` and an in-process model. While many concurrent calls are in flight the
server is killed with SIGKILL and restarted on the same port (empty: it runs without persistence).
The invariants, not timings:

* no call fails: the cache fails open (a miss, the answer not stored), the limits fall back per
  ``limits_failure_policy`` and breakers to in-process state; every answer is the right one;
* the outage was real (the gateway counted cache and limits errors) and the gateway returns to the
  server by itself once it is back (answers are stored there again, health is ``ok``), without a
  restart of the app;
* rate limits follow the documented policy while the server is down: ``local`` keeps the same
  limits in process, ``allow`` lets every call through, ``deny`` refuses every call with
  ``RateLimited(scope=["limits_unavailable"])``; nothing but ``RateLimited`` is ever raised.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.gateway import Gateway, GatewayConfig, RateLimited
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.contracts.bus import eventually
from motadata_ai.testing.servers.redis import ValkeyServer

pytestmark = [pytest.mark.faults, pytest.mark.redis]

TENANTS = ("acme", "acme.eu", "globex")
WORKERS = 16
PROMPTS = 40  # per tenant: repeated prompts give cache hits, new ones misses


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


def answer(request: ChatRequest) -> str:
    return "answer to " + (request.messages[-1].content or "")


@dataclass
class Rig:
    """One gateway on a private Valkey server, and what its calls did."""

    server: ValkeyServer
    gateway: Gateway
    cache: RedisCache
    limits: RedisLimits
    llm: FunctionLLM
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[BaseException] = field(default_factory=list)


@pytest_asyncio.fixture
async def make_rig(redis_server_factory: Callable[[], ValkeyServer]) -> AsyncIterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def build(**config: Any) -> Rig:
        server = redis_server_factory()
        namespace = f"fault-{uuid.uuid4().hex[:8]}"
        cache = RedisCache.from_url(server.url, namespace=namespace, connect_timeout=0.5, timeout=2.0)
        limits = RedisLimits(cache.client, address=server.url, namespace=namespace)
        llm = FunctionLLM(answer)
        gateway = Gateway(
            llm=llm,
            embeddings=HashEmbeddings(),
            config=GatewayConfig(default_model="test/model", max_retries=0, **config),
            cache=cache,
            limits=limits,
        )
        rig = Rig(server, gateway, cache, limits, llm)
        made.append(rig)
        return rig

    yield build
    for rig in made:
        await rig.cache.aclose()


async def _load(rig: Rig, stop: asyncio.Event, worker: int) -> None:
    """Calls until ``stop``: every answer must be the right one, every error is recorded."""
    n = worker
    while not stop.is_set():
        tenant = TENANTS[n % len(TENANTS)]
        prompt = f"{tenant} question {n % PROMPTS}"
        n += WORKERS
        try:
            response = await rig.gateway.generate(ask(prompt), tenant_id=tenant)
        except Exception as error:  # any error is a failed call
            rig.failures.append(error)
            rig.outcomes["failed"] += 1
        else:
            assert response.text == "answer to " + prompt
            rig.outcomes["cached" if response.cached else "answered"] += 1
        await asyncio.sleep(0)


async def test_gateway_load_survives_kill_9_of_valkey_with_no_failed_call(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(requests_per_minute=10_000_000, burst_size=10_000_000, limits_failure_policy="local")
    stop = asyncio.Event()
    workers = [asyncio.create_task(_load(rig, stop, w)) for w in range(WORKERS)]
    try:
        await eventually(lambda: rig.outcomes["cached"] >= 200, what="cache hits from Valkey before the kill")
        assert rig.gateway.stats.cache_errors == 0 and rig.gateway.stats.limits_errors == 0
        assert await rig.cache.client.dbsize() > 0

        rig.server.kill()  # SIGKILL with calls in flight
        before = sum(rig.outcomes.values())
        await eventually(
            lambda: sum(rig.outcomes.values()) >= before + 100, what="calls served while Valkey is down"
        )
        assert rig.gateway.stats.cache_errors > 0 and rig.gateway.stats.limits_errors > 0

        rig.server.start()  # the same port, an empty server
        await eventually_async(lambda: _stores_answer(rig), what="cache and limits answering again")
        after_restart = sum(rig.outcomes.values())
        await eventually(
            lambda: sum(rig.outcomes.values()) >= after_restart + 200, what="calls after the restart"
        )
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert rig.failures == [] and rig.outcomes["failed"] == 0, rig.failures[:3]
    assert rig.outcomes["answered"] > 0 and rig.outcomes["cached"] > 0
    health = await rig.gateway.health()
    assert health.status == "ok" and health.cache is True and health.limits is True
    assert health.breakers == {}
    assert await rig.cache.client.dbsize() > 0  # the load stored answers on the restarted server
    first = await rig.gateway.generate(ask("a fresh question"), tenant_id="acme")
    again = await rig.gateway.generate(ask("a fresh question"), tenant_id="acme")
    assert not first.cached and again.cached  # stored on and answered from the restarted Valkey


async def _burst(rig: Rig, tenant: str, label: str, calls: int) -> Counter[str]:
    """``calls`` concurrent calls with new prompts (no cache hit): what each ended with."""

    async def one(n: int) -> str:
        try:
            await rig.gateway.generate(ask(f"{label} {n}"), tenant_id=tenant)
        except RateLimited as error:
            return "limited:" + ",".join(error.scope)
        return "ok"

    return Counter(await asyncio.gather(*(one(n) for n in range(calls))))


@pytest.mark.parametrize("policy", ["local", "allow", "deny"])
async def test_rate_limits_follow_their_policy_across_a_kill_9(
    make_rig: Callable[..., Rig], policy: str
) -> None:
    burst = 5
    calls = 20
    rig = make_rig(requests_per_minute=1, burst_size=burst, limits_failure_policy=policy)

    up = await _burst(rig, "acme", "before", calls)
    assert up == Counter({"ok": burst, "limited:req": calls - burst})  # one atomic bucket on Valkey

    rig.server.kill()
    down = await _burst(rig, "acme", "during", calls)
    if policy == "local":  # the same limits, in process
        assert down == Counter({"ok": burst, "limited:req": calls - burst})
    elif policy == "allow":
        assert down == Counter({"ok": calls})
    else:
        assert down == Counter({"limited:limits_unavailable": calls})
    assert rig.gateway.stats.limits_errors > 0

    rig.server.start()  # empty: the bucket starts full again
    await eventually_async(lambda: _stores_answer(rig), what="cache and limits answering again")
    after = await _burst(rig, "acme", "after", calls)
    assert after == Counter({"ok": burst, "limited:req": calls - burst})
    assert (await rig.gateway.health()).status == "ok"


async def _stores_answer(rig: Rig) -> bool:
    health = await rig.gateway.health()
    return health.limits is True and health.cache is True


async def eventually_async(condition: Callable[[], Any], *, what: str, within: float = 15.0) -> None:
    """Wait until the coroutine ``condition()`` returns true (a liveness bound, not a speed check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.02)
