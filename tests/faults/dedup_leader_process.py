"""An SDK instance that leads a cross-instance de-duplicated call and never finishes it, for
``test_dedup_leader_kill.py``.

``python -m tests.faults.dedup_leader_process REDIS_URL NAMESPACE LEASE_TTL`` prints ``leading``
once its provider call has started (it holds the lease then), and waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis import RedisCache
from motadata_ai.adapters.redis.leases import RedisLeases
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.values.llm import ChatRequest, Message

PROMPT = "Who approves an emergency change?"


async def main(url: str, namespace: str, ttl: float) -> None:
    async def stuck(request: ChatRequest) -> str:
        print("leading", flush=True)
        await asyncio.Event().wait()
        return "never"

    cache = RedisCache.from_url(url, namespace=namespace, timeout=2.0)
    gateway = Gateway(
        llm=FunctionLLM(stuck),
        embeddings=HashEmbeddings(dimensions=8),
        config=GatewayConfig(default_model="test/model", requests_per_minute=None, dedup_lease_ttl=ttl),
        cache=cache,
        leases=RedisLeases(cache.client, address=url, namespace=namespace),
    )
    request = ChatRequest(model="test/model", messages=(Message(role="user", content=PROMPT),))
    await gateway.generate(request, tenant_id="acme")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
