"""A fresh process's first remote call (LiteLLM not yet imported), for ``test_first_call.py``.

``python -m tests.faults.first_call_process ticker|timeout`` prints one JSON line:

- ``ticker``: a coroutine ticking every 5 ms runs while the first call is made; the largest gap
  between two ticks and the first call's duration (which includes importing LiteLLM).
- ``timeout``: the first call with ``timeout=0.05``; the error it raised (or ``"completed"``),
  its attempts' errors, and whether LiteLLM had finished loading when it raised.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from motadata_ai.adapters.litellm import LiteLLMChat
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.ports.llm import ProviderTimeout
from motadata_ai.testing.openai_server import OpenAIServer

MODEL = "openai/gpt-4o-mini"
TICK = 0.005


def make_gateway(base_url: str) -> Gateway:
    return Gateway(
        llm=LiteLLMChat(api_base=base_url, api_key="sk-test", timeout=30),
        embeddings=HashEmbeddings(dimensions=16),
        config=GatewayConfig(
            default_model=MODEL,
            default_embedding_model="hash",
            enable_caching=False,
            requests_per_minute=None,
            max_retries=0,
        ),
    )


def request() -> ChatRequest:
    return ChatRequest(model=MODEL, messages=(Message(role="user", content="Is the VPN up?"),))


async def ticker_run(gateway: Gateway) -> dict[str, object]:
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(tick())
    await asyncio.sleep(TICK * 3)
    started = time.perf_counter()
    response = await gateway.generate(request(), tenant_id="t1")
    call_s = time.perf_counter() - started
    done.set()
    await ticking
    return {
        "answered": bool(response.message.content),
        "call_s": call_s,
        "max_gap_s": max(gaps),
        "ticks": len(gaps),
    }


async def timeout_run(gateway: Gateway) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await gateway.generate(request(), tenant_id="t1", timeout=0.05)
    except MotadataError as error:
        return {
            "raised": type(error).__name__,
            "provider_timeout": isinstance(error, ProviderTimeout),
            "attempts": [a["error"] for a in getattr(error, "attempts", None) or ()],
            "elapsed_s": time.perf_counter() - started,
            "litellm_loaded": "litellm" in sys.modules and hasattr(sys.modules["litellm"], "acompletion"),
        }
    return {"raised": "completed", "attempts": [], "elapsed_s": time.perf_counter() - started}


async def main(mode: str) -> None:
    imported_before = "litellm" in sys.modules
    with OpenAIServer(mode="process") as server:
        gateway = make_gateway(server.base_url)
        result = await (ticker_run(gateway) if mode == "ticker" else timeout_run(gateway))
        await gateway.aclose()
    result["imported_before"] = imported_before
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
