"""Degraded Redis: the gateway's cost per call with Valkey up, killed and frozen, in one run.

One gateway with every policy on (cache lookup and store, tenant and model rate limits with token
buckets, circuit breaker, de-duplication, medium guardrails, ledger, telemetry) over an in-process
model that answers at once, so the figures are the policies and their stores, without HTTP noise.
The Redis cache and Redis limits are wired as the container wires them (one pool, the adapters'
default timeouts). Phases, one after the other in this process:

* ``memory``: in-memory cache and limits (the in-process baseline);
* ``redis_up``: a real ``valkey-server`` (started here);
* ``redis_killed``: the server killed with SIGKILL (connections refused);
* ``redis_recovered``: the server restarted on the same port;
* ``redis_frozen``: the server suspended with SIGSTOP (connections accepted, nothing answered).

Each phase makes sequential calls with new prompts (every call a cache miss: every store operation
runs) for at most ``--seconds`` or ``--calls`` calls, and then a concurrent burst (16 callers) for
throughput. The first call of an outage pays the socket timeout; the percentiles show the rest.
Prints a table and, as its last line, one JSON object. The script uses only APIs that predate the
store circuits, so it also runs against older code (``PYTHONPATH=<old checkout>``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog, InMemoryUsageLedger
from motadata_ai.adapters.memory.limits import InMemoryLimits
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.limits import RedisLimits
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.testing.servers.redis import ValkeyServer

MODEL = "test/model"
CONCURRENCY = 16
_counter = itertools.count()


def request() -> ChatRequest:
    text = f"How do I reset my VPN token? (ticket {next(_counter)})"
    return ChatRequest(
        model=MODEL,
        messages=(
            Message(role="system", content="You are the IT service desk."),
            Message(role="user", content=text),
        ),
    )


def gateway(cache: CachePort, limits: LimitsPort) -> Gateway:
    config = GatewayConfig(
        default_model=MODEL,
        requests_per_minute=10_000_000,
        burst_size=1_000_000,
        tokens_per_minute=1_000_000_000,
        model_requests_per_minute=10_000_000,
        model_burst_size=1_000_000,
        validation_level="medium",
        max_retries=0,
        limits_failure_policy="local",
    )
    return Gateway(
        llm=FunctionLLM(lambda r: "ok"),
        embeddings=HashEmbeddings(),
        config=config,
        cache=cache,
        limits=limits,
        ledger=InMemoryUsageLedger(),
        audit=InMemoryAuditLog(),
        telemetry=RecordingTelemetry(max_items=2000),
    )


def figures(samples: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0

    return {
        "calls": len(ordered),
        "first_ms": samples[0] * 1000.0,
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": ordered[-1] * 1000.0,
        "mean": statistics.fmean(ordered) * 1000.0,
        "calls_s": len(ordered) / seconds if seconds > 0 else 0.0,
    }


async def sequential(call: Callable[[], Awaitable[Any]], calls: int, budget: float) -> dict[str, float]:
    """Up to ``calls`` calls one after the other, stopping after ``budget`` seconds."""
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < calls and time.perf_counter() - started < budget:
        t0 = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - t0)
    return figures(samples, time.perf_counter() - started)


async def burst(call: Callable[[], Awaitable[Any]], calls: int, budget: float) -> float:
    """Calls per second with ``CONCURRENCY`` callers (up to ``calls``, or ``budget`` seconds)."""
    done = 0
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal done
        while done < calls and time.perf_counter() - started < budget:
            done += 1
            await call()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def run(calls: int, budget: float) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    valkey = ValkeyServer().start()
    try:
        memory = gateway(InMemoryCache(), InMemoryLimits())
        cache = RedisCache.from_url(valkey.url, namespace="bench")
        limits = RedisLimits(cache.client, address=valkey.url, namespace="bench")
        redis = gateway(cache, limits)
        for _ in range(50):  # warm-up: imports, connections, scripts loaded on the server
            await memory.generate(request(), tenant_id="bench")
            await redis.generate(request(), tenant_id="bench")
        gc.collect()
        gc.freeze()

        async def phase(name: str, target: Gateway) -> None:
            async def call() -> Any:
                return await target.generate(request(), tenant_id="bench")

            results[name] = await sequential(call, calls, budget)
            results[name]["burst_calls_s"] = await burst(call, calls, budget)
            health = await target.health()
            results[name]["health_degraded"] = float(health.status == "degraded")
            stores = getattr(health, "stores", None)
            if stores is not None:
                print(f"  {name}: health {health.status}, stores {stores}", file=sys.stderr)

        await phase("memory", memory)
        await phase("redis_up", redis)
        valkey.kill()
        await phase("redis_killed", redis)
        valkey.start()
        await asyncio.sleep(1.0)  # let any open circuit come due, as time would in service
        await phase("redis_recovered", redis)
        valkey.freeze()
        try:
            await phase("redis_frozen", redis)
        finally:
            valkey.thaw()
        await cache.aclose()
    finally:
        valkey.remove()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="most calls per phase (default 2000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="most seconds per phase (default 10)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(run(args.calls, args.seconds))
    print(
        f"{'phase':<18}{'calls':>7}{'first ms':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'calls/s':>9}{'c=16/s':>9}"
    )
    for name, f in results.items():
        print(
            f"{name:<18}{f['calls']:>7.0f}{f['first_ms']:>10.2f}{f['p50']:>9.3f}{f['p95']:>9.3f}"
            f"{f['p99']:>9.3f}{f['max']:>9.1f}{f['calls_s']:>9.0f}{f['burst_calls_s']:>9.0f}"
        )
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    summary = {
        **{f"{name}_p50_ms": round(f["p50"], 3) for name, f in results.items()},
        **{f"{name}_p95_ms": round(f["p95"], 3) for name, f in results.items()},
        **{f"{name}_calls_s": round(f["calls_s"]) for name, f in results.items()},
        "load_1m": round(load[0], 2),
        "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    sys.stdout.flush()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
