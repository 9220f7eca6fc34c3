"""kill -9 of a Valkey Cluster master under gateway load: no call fails, the limits resume.

The gateway runs with its cache and limits on a private 3-master Valkey Cluster (each master with
a replica, ``redis+cluster://`` URL) and an in-process model. With many calls in flight the master
serving one tenant's hash slot is killed with SIGKILL. Invariants, not timings:

* no call fails: while the slot has no master the cache fails open and the limits fall back to
  in-process buckets (the documented ``local`` policy); every answer is the right one;
* the other tenants' slots keep being served by their masters throughout;
* the replica is promoted, the client follows the new slot map by itself (``MOVED`` and a
  refresh, no restart), and the tenant's buckets and cached answers live on the cluster again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.limits import BucketSpec
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.contracts.bus import eventually
from motadata_ai.testing.servers.redis_cluster import ValkeyCluster

pytestmark = [pytest.mark.faults, pytest.mark.redis]

TENANTS = ("acme", "globex", "initech", "umbrella")
WORKERS = 16
PROMPTS = 40


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


def answer(request: ChatRequest) -> str:
    return "answer to " + (request.messages[-1].content or "")


async def _load(
    gateway: Gateway, stop: asyncio.Event, worker: int, outcomes: Counter[str], failures: list[BaseException]
) -> None:
    n = worker
    while not stop.is_set():
        tenant = TENANTS[n % len(TENANTS)]
        prompt = f"{tenant} question {n % PROMPTS}"
        n += WORKERS
        try:
            response = await gateway.generate(ask(prompt), tenant_id=tenant)
        except Exception as error:  # any error is a failed call
            failures.append(error)
            outcomes["failed"] += 1
        else:
            assert response.text == "answer to " + prompt
            outcomes["cached" if response.cached else "answered"] += 1
        await asyncio.sleep(0)


async def test_killing_a_master_fails_no_call_and_limits_resume_after_failover(
    redis_cluster_factory: Callable[[], ValkeyCluster],
) -> None:
    cluster = redis_cluster_factory()
    namespace = f"failover-{uuid.uuid4().hex[:8]}"
    cache = RedisCache.from_url(cluster.url, namespace=namespace, connect_timeout=0.5, timeout=1.0)
    limits = RedisLimits(cache.client, address=cluster.url, namespace=namespace)
    gateway = Gateway(
        llm=FunctionLLM(answer),
        embeddings=HashEmbeddings(),
        config=GatewayConfig(
            default_model="test/model",
            max_retries=0,
            requests_per_minute=10_000_000,
            burst_size=10_000_000,
            limits_failure_policy="local",
        ),
        cache=cache,
        limits=limits,
    )
    bucket = keys.tenant_key("acme", keys.RATE_LIMITS, "probe")
    victim = cluster.master_of(cache.key(bucket))
    outcomes: Counter[str] = Counter()
    failures: list[BaseException] = []
    stop = asyncio.Event()
    workers = [asyncio.create_task(_load(gateway, stop, w, outcomes, failures)) for w in range(WORKERS)]
    try:
        await eventually(
            lambda: outcomes["cached"] >= 200, what="cache hits from the cluster before the kill"
        )
        assert gateway.stats.cache_errors == 0 and gateway.stats.limits_errors == 0

        victim.kill()  # SIGKILL of the master of acme's slot, calls in flight
        before = sum(outcomes.values())
        await eventually(
            lambda: sum(outcomes.values()) >= before + 200, what="calls served during the failover", within=30
        )
        await asyncio.to_thread(cluster.wait_ok, 30.0)  # the replica took over the slots
        assert victim not in cluster.masters and len(cluster.masters) == 3

        async def bucket_on_cluster() -> bool:
            try:
                decision = await limits.take([BucketSpec(bucket, capacity=5, refill_per_second=0.001)])
            except Exception:  # still following the new slot map
                return False
            return decision.allowed and await cache.client.exists(cache.key(bucket)) == 1

        await eventually_async(bucket_on_cluster, what="limits answering from the promoted replica")
        after = sum(outcomes.values())
        await eventually(lambda: sum(outcomes.values()) >= after + 200, what="calls after the failover")
    finally:
        stop.set()
        await asyncio.gather(*workers)
        await cache.aclose()
    assert failures == [] and outcomes["failed"] == 0, failures[:3]
    # the buckets of acme now live on the promoted master and count across calls again
    spec = [
        BucketSpec(keys.tenant_key("acme", keys.RATE_LIMITS, "after"), capacity=2, refill_per_second=0.001)
    ]
    cache = RedisCache.from_url(cluster.url, namespace=namespace, timeout=2.0)
    limits = RedisLimits(cache.client, address=cluster.url, namespace=namespace)
    try:
        assert [(await limits.take(spec)).allowed for _ in range(3)] == [True, True, False]
    finally:
        await cache.aclose()


async def eventually_async(condition: Callable[[], object], *, what: str, within: float = 30.0) -> None:
    """Wait until the coroutine ``condition()`` returns true (a liveness bound, not a speed check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():  # type: ignore[misc]
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.05)
