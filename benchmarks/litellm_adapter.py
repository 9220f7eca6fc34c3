"""LiteLLM adapter overhead and the local providers' speed.

Against the loopback OpenAI-protocol server (its own process), one call at a time, side by side
in one run:

1. a direct ``httpx`` POST (the floor), the ``openai`` SDK, raw ``litellm.acompletion``, and
   ``LiteLLMChat.complete`` — so the adapter's overhead over raw LiteLLM is
   ``adapter p50 - litellm p50``;
2. the same for streaming (time to the last chunk);
3. ``local/extractive`` through LiteLLMChat against calling the extractive engine directly;
4. ``local/all-minilm-l6-v2`` embeddings/s through LiteLLMEmbeddings against calling
   sentence-transformers directly (batch of 32).

    python benchmarks/litellm_adapter.py            # full run
    python benchmarks/litellm_adapter.py --quick    # < 60 s

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

from motadata_ai.adapters.litellm import LiteLLMChat, LiteLLMEmbeddings, load_litellm
from motadata_ai.adapters.local.extractive import ExtractiveGenerator
from motadata_ai.domain.values.llm import ChatRequest, EmbeddingRequest, Message
from motadata_ai.domain.values.passages import Passage, format_passages
from motadata_ai.plugins import PluginManager
from motadata_ai.testing.openai_server import OpenAIServer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(name: str, samples: list[float]) -> dict[str, float]:
    result = {
        "p50_ms": statistics.median(samples),
        "p95_ms": percentile(samples, 0.95),
        "p99_ms": percentile(samples, 0.99),
    }
    p50, p95, p99 = result["p50_ms"], result["p95_ms"], result["p99_ms"]
    print(f"{name:34s} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  p99 {p99:7.2f} ms")
    return result


async def measure(name: str, fn: Callable[[], Awaitable[Any]], n: int, warmup: int = 20) -> dict[str, float]:
    return (await interleaved({name: fn}, n, warmup))[name]


async def interleaved(
    fns: dict[str, Callable[[], Awaitable[Any]]], n: int, warmup: int = 20
) -> dict[str, dict[str, float]]:
    """Time each function ``n`` times, taking turns, so load drifts hit every variant alike."""
    for _ in range(warmup):
        for fn in fns.values():
            await fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(n):
        for name, fn in fns.items():
            started = time.perf_counter()
            await fn()
            samples[name].append((time.perf_counter() - started) * 1000.0)
    return {name: summarise(name, values) for name, values in samples.items()}


async def main(quick: bool) -> dict[str, Any]:
    n = 150 if quick else 1000
    server = OpenAIServer(mode="process").start()
    server.set_recording(False)
    litellm = load_litellm()
    messages = [{"role": "user", "content": "Which port does the web server listen on?"}]
    request = ChatRequest(
        model="openai/gpt-4o-mini", messages=(Message(role="user", content=messages[0]["content"]),)
    )
    figures: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient() as client:

            async def direct() -> None:
                response = await client.post(
                    server.base_url + "/chat/completions", json={"model": "gpt-4o-mini", "messages": messages}
                )
                response.json()

            import openai

            sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)

            async def via_sdk() -> None:
                await sdk.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]

            async def raw() -> None:
                await litellm.acompletion(
                    model="openai/gpt-4o-mini",
                    messages=messages,
                    api_base=server.base_url,
                    api_key="sk-bench",
                )

            chat = LiteLLMChat(api_base=server.base_url, api_key="sk-bench")

            async def adapter() -> None:
                await chat.complete(request)

            measured = await interleaved(
                {
                    "direct httpx POST": direct,
                    "openai SDK": via_sdk,
                    "raw litellm.acompletion": raw,
                    "LiteLLMChat.complete": adapter,
                },
                n,
            )
            figures["httpx"] = measured["direct httpx POST"]
            figures["openai_sdk"] = measured["openai SDK"]
            figures["litellm"] = measured["raw litellm.acompletion"]
            figures["adapter"] = measured["LiteLLMChat.complete"]

        async def raw_stream() -> None:
            stream = await litellm.acompletion(
                model="openai/gpt-4o-mini",
                messages=messages,
                api_base=server.base_url,
                api_key="sk-bench",
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _ in stream:
                pass

        async def adapter_stream() -> None:
            async for _ in chat.stream(request):
                pass

        streams = await interleaved(
            {"raw litellm stream": raw_stream, "LiteLLMChat.stream": adapter_stream}, n // 2
        )
        figures["litellm_stream"] = streams["raw litellm stream"]
        figures["adapter_stream"] = streams["LiteLLMChat.stream"]
        await sdk.close()
    finally:
        server.stop()

    manager = PluginManager(allow=["builtin"]).load()
    manager.install_providers()
    passages = [
        Passage(
            index=i + 1,
            title=f"KB {i + 1}",
            text=f"Service {i} runs on host web-{i:02d}. It listens on port {8000 + i}.",
        )
        for i in range(20)
    ]
    question = "Which port does service 7 listen on?"
    local_request = ChatRequest(
        model="local/extractive",
        messages=(
            Message(role="system", content="Context:\n" + format_passages(passages)),
            Message(role="user", content=question),
        ),
    )
    engine = ExtractiveGenerator()

    async def engine_direct() -> None:
        engine.answer(question, passages)

    async def extractive() -> None:
        await LOCAL_CHAT.complete(local_request)

    LOCAL_CHAT = LiteLLMChat()
    figures["extractive_engine"] = await measure("extractive engine (direct)", engine_direct, n)
    figures["extractive_litellm"] = await measure("local/extractive via LiteLLM", extractive, n)

    texts = [
        f"Ticket {i}: the VPN client on laptop LAP-{i:04d} fails after the password change."
        for i in range(32)
    ]
    embeddings = LiteLLMEmbeddings()
    await embeddings.embed(EmbeddingRequest(model="local/all-minilm-l6-v2", inputs=tuple(texts)))  # load
    from motadata_ai.adapters.local.minilm import shared_embedder

    model = shared_embedder()
    rounds = 3 if quick else 10
    started = time.perf_counter()
    for _ in range(rounds):
        model.embed(texts)
    direct_rate = rounds * len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(rounds):
        await embeddings.embed(EmbeddingRequest(model="local/all-minilm-l6-v2", inputs=tuple(texts)))
    adapter_rate = rounds * len(texts) / (time.perf_counter() - started)
    print(f"{'MiniLM direct (numpy forward pass)':34s} {direct_rate:8.0f} texts/s")
    print(f"{'local/all-minilm-l6-v2 via LiteLLM':34s} {adapter_rate:8.0f} texts/s")
    manager.uninstall_providers()

    summary = {
        "httpx_p50_ms": round(figures["httpx"]["p50_ms"], 3),
        "openai_sdk_p50_ms": round(figures["openai_sdk"]["p50_ms"], 3),
        "litellm_p50_ms": round(figures["litellm"]["p50_ms"], 3),
        "litellm_p99_ms": round(figures["litellm"]["p99_ms"], 3),
        "adapter_p50_ms": round(figures["adapter"]["p50_ms"], 3),
        "adapter_p99_ms": round(figures["adapter"]["p99_ms"], 3),
        "adapter_overhead_p50_ms": round(figures["adapter"]["p50_ms"] - figures["litellm"]["p50_ms"], 3),
        "adapter_stream_overhead_p50_ms": round(
            figures["adapter_stream"]["p50_ms"] - figures["litellm_stream"]["p50_ms"], 3
        ),
        "litellm_overhead_over_httpx_p50_ms": round(
            figures["litellm"]["p50_ms"] - figures["httpx"]["p50_ms"], 3
        ),
        "extractive_engine_p50_ms": round(figures["extractive_engine"]["p50_ms"], 3),
        "extractive_litellm_p50_ms": round(figures["extractive_litellm"]["p50_ms"], 3),
        "minilm_direct_texts_per_s": round(direct_rate, 1),
        "minilm_litellm_texts_per_s": round(adapter_rate, 1),
        "samples": n,
    }
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (< 60 s)")
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments.quick))))
