"""Gateway overhead: the gateway's paths side by side with raw LiteLLM, in one run.

Against one loopback OpenAI-protocol server (a child process, so it does not share the client's
GIL), at concurrency 1 and 64, it measures:

* ``raw``: ``litellm.acompletion`` straight to the server (the baseline);
* ``gateway_miss``: the gateway with every policy on (cache lookup and store, tenant and model
  rate limits, circuit breaker, de-duplication, medium guardrails, ledger, telemetry), a new
  prompt each call so every call reaches the provider;
* ``gateway_hit_memory`` / ``gateway_hit_redis``: cache hits on the in-memory cache and on a real
  Valkey server (started here), with Redis-backed limits;
* ``litellm_hit``: LiteLLM's own in-memory cache hit (``litellm.Cache(type="local")``);
* ``pipeline``: the gateway over an in-process model that answers at once, minus that model's own
  time: the pure cost of the policies, without HTTP noise.

Raw and gateway-miss calls alternate, so both see the same machine load. Prints a table and, as its
last line, one JSON object. ``--quick`` finishes in under a minute.
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

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

from motadata_ai.adapters.litellm import LiteLLMChat
from motadata_ai.adapters.litellm._runtime import load_litellm
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
from motadata_ai.testing.openai_server import OpenAIServer
from motadata_ai.testing.servers.redis import ValkeyServer

MODEL = "openai/gpt-4o-mini"
_counter = itertools.count()


def prompt(fixed: bool = False) -> list[dict[str, str]]:
    text = (
        "How do I reset my VPN token?" if fixed else f"How do I reset my VPN token? (ticket {next(_counter)})"
    )
    return [{"role": "system", "content": "You are the IT service desk."}, {"role": "user", "content": text}]


def request(messages: list[dict[str, str]]) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=tuple(Message(**m) for m in messages))  # type: ignore[arg-type]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": statistics.fmean(ordered) * 1000.0}


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def concurrent(
    call: Callable[[], Awaitable[Any]], total: int, concurrency: int
) -> tuple[list[float], float]:
    """``total`` calls, ``concurrency`` at a time; latencies and requests per second."""
    samples: list[float] = []
    remaining = itertools.count()

    async def worker() -> None:
        while next(remaining) < total:
            samples.append(await timed(call))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, total / (time.perf_counter() - started)


def gateway(llm: Any, cache: CachePort, limits: LimitsPort) -> Gateway:
    config = GatewayConfig(
        default_model=MODEL,
        requests_per_minute=10_000_000,
        burst_size=1_000_000,
        tokens_per_minute=1_000_000_000,
        model_requests_per_minute=10_000_000,
        model_burst_size=1_000_000,
        validation_level="medium",
    )
    return Gateway(
        llm=llm,
        embeddings=HashEmbeddings(),
        config=config,
        cache=cache,
        limits=limits,
        ledger=InMemoryUsageLedger(),
        audit=InMemoryAuditLog(),
        telemetry=RecordingTelemetry(max_items=2000),
    )


async def run(quick: bool) -> dict[str, Any]:
    n1 = 150 if quick else 1000
    n64 = 640 if quick else 4000
    hits = 3000 if quick else 20000
    litellm = load_litellm()
    server = OpenAIServer(mode="process").start()
    valkey = ValkeyServer().start()
    results: dict[str, dict[str, Any]] = {}
    try:
        base = {"api_base": server.base_url, "api_key": "sk-bench", "max_retries": 0, "timeout": 30}

        async def raw() -> Any:
            return await litellm.acompletion(model=MODEL, messages=prompt(), **base)

        chat = LiteLLMChat(api_base=server.base_url, api_key="sk-bench", timeout=30)
        memory_gateway = gateway(chat, InMemoryCache(), InMemoryLimits())
        redis_cache = RedisCache.from_url(valkey.url, namespace="bench")
        redis_limits = RedisLimits(redis_cache.client, address=valkey.url, namespace="bench")
        redis_gateway = gateway(chat, redis_cache, redis_limits)

        async def miss() -> Any:
            return await memory_gateway.generate(request(prompt()), tenant_id="bench")

        fixed = request(prompt(fixed=True))

        async def hit_memory() -> Any:
            return await memory_gateway.generate(fixed, tenant_id="bench")

        async def hit_redis() -> Any:
            return await redis_gateway.generate(fixed, tenant_id="bench")

        # Warm-up: connections, LiteLLM's lazy imports, the cache entries the hit paths read.
        for _ in range(20):
            await raw()
            await miss()
        await hit_memory()
        await hit_redis()
        # LiteLLM loads a very large object graph; freezing it keeps full garbage collections
        # (tens of ms each) out of every path's tail alike, as a long-running service would.
        gc.collect()
        gc.freeze()

        # Concurrency 1: raw and gateway miss alternate.
        raw_samples: list[float] = []
        miss_samples: list[float] = []
        for _ in range(n1):
            raw_samples.append(await timed(raw))
            miss_samples.append(await timed(miss))
        results["raw@1"] = percentiles(raw_samples)
        results["gateway_miss@1"] = percentiles(miss_samples)

        # Concurrency 64.
        for name, call, total in (
            ("raw@64", raw, n64),
            ("gateway_miss@64", miss, n64),
        ):
            samples, rate = await concurrent(call, total, 64)
            results[name] = {**percentiles(samples), "req_s": rate}
        for name, call, total in (
            ("gateway_hit_memory", hit_memory, hits),
            ("gateway_hit_redis", hit_redis, hits // 3),
        ):
            samples, rate = await concurrent(call, total, 1)
            results[f"{name}@1"] = {**percentiles(samples), "req_s": rate}
            samples, rate = await concurrent(call, total, 64)
            results[f"{name}@64"] = {**percentiles(samples), "req_s": rate}

        # LiteLLM's own cache. Its cache-hit path imports LiteLLM's proxy pass-through logging,
        # which imports ``soundfile`` (audio transcription) at module level; that module plays no
        # part in a chat cache hit, so an empty stand-in satisfies the import when it is missing.
        import types

        sys.modules.setdefault("soundfile", types.ModuleType("soundfile"))
        from litellm.caching.caching import Cache

        litellm.cache = Cache(type="local")
        fixed_messages = prompt(fixed=True)

        async def litellm_hit() -> Any:
            return await litellm.acompletion(model=MODEL, messages=fixed_messages, caching=True, **base)

        await litellm_hit()
        await litellm_hit()
        for concurrency in (1, 64):
            samples, rate = await concurrent(litellm_hit, hits // 3, concurrency)
            results[f"litellm_hit@{concurrency}"] = {**percentiles(samples), "req_s": rate}
        litellm.cache = None

        # The policies alone, over an in-process model that answers at once.
        instant = FunctionLLM(lambda r: "ok")
        pipeline = gateway(instant, InMemoryCache(), InMemoryLimits())
        direct: list[float] = []
        through: list[float] = []
        for _ in range(n1 * 4):
            req = request(prompt())
            direct.append(await timed(lambda req=req: instant.complete(req)))
            req = request(prompt())
            through.append(await timed(lambda req=req: pipeline.generate(req, tenant_id="bench")))
        results["instant_model@1"] = percentiles(direct)
        results["pipeline@1"] = percentiles(through)
        await redis_cache.aclose()
    finally:
        server.stop()
        valkey.remove()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (< 60 s)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(run(args.quick))
    print(f"{'path':<26}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'req/s':>12}")
    for name, figures in results.items():
        rate = f"{figures['req_s']:>12.0f}" if "req_s" in figures else f"{'':>12}"
        print(f"{name:<26}{figures['p50']:>10.3f}{figures['p95']:>10.3f}{figures['p99']:>10.3f}{rate}")
    summary = {
        "miss_overhead_p50_ms": round(results["gateway_miss@1"]["p50"] - results["raw@1"]["p50"], 3),
        "miss_overhead_p99_ms": round(results["gateway_miss@1"]["p99"] - results["raw@1"]["p99"], 3),
        "miss_overhead_p50_ms_c64": round(results["gateway_miss@64"]["p50"] - results["raw@64"]["p50"], 3),
        "pipeline_overhead_p50_ms": round(
            results["pipeline@1"]["p50"] - results["instant_model@1"]["p50"], 3
        ),
        "pipeline_overhead_p99_ms": round(
            results["pipeline@1"]["p99"] - results["instant_model@1"]["p99"], 3
        ),
        "raw_p50_ms": round(results["raw@1"]["p50"], 3),
        "hit_p50_ms_memory": round(results["gateway_hit_memory@1"]["p50"], 4),
        "hit_p95_ms_memory": round(results["gateway_hit_memory@1"]["p95"], 4),
        "hit_p95_ms_redis": round(results["gateway_hit_redis@1"]["p95"], 4),
        "hits_per_s_memory": round(
            max(results["gateway_hit_memory@1"]["req_s"], results["gateway_hit_memory@64"]["req_s"])
        ),
        "hits_per_s_redis": round(
            max(results["gateway_hit_redis@1"]["req_s"], results["gateway_hit_redis@64"]["req_s"])
        ),
        "litellm_hit_p95_ms": round(results["litellm_hit@1"]["p95"], 4),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
    }
    sys.stdout.flush()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
