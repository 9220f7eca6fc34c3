"""Memory's embeddings are its user's calls: on their own they are a ``memory.remember`` /
``memory.recall`` request; inside a request (an agent task) they are part of it."""

from __future__ import annotations

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger
from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.memory import MemoryManager
from motadata_ai.testing.models import FunctionLLM


async def test_memory_embeddings_are_attributed_to_the_user_and_their_request() -> None:
    ledger = InMemoryUsageLedger()
    gateway = Gateway(
        llm=FunctionLLM(lambda _: "x"),
        embeddings=HashEmbeddings(dimensions=32),
        ledger=ledger,
        config=GatewayConfig(default_model="m", default_embedding_model="hash", enable_caching=False),
    )
    memory = MemoryManager(store=InMemoryMemoryStore(), embedder=gateway)
    await memory.remember("acme", "bob", "bob prefers e-mail")
    await memory.recall("acme", "bob", "how does bob like to be contacted?")
    async with gateway.request("acme", operation="agent.execute_task", user_id="bob") as origin:
        await memory.recall("acme", "bob", "contact")
    await gateway.flush()
    records = await ledger.usage_records(tenant="acme")
    assert sorted((r.use_case or "", r.purpose or "", r.user_id or "") for r in records) == [
        ("agent.execute_task", "memory_recall", "bob"),
        ("memory.recall", "memory_recall", "bob"),
        ("memory.remember", "memory_write", "bob"),
    ]
    inside = [r for r in records if r.use_case == "agent.execute_task"]
    assert inside[0].request_id == origin.request_id and origin.usage is not None and origin.usage.calls == 1
