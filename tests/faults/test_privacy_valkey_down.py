"""Erasing a user while the Valkey cache is unreachable: a typed error naming the store, no
success reported, and a re-run after the server answers again finishes the erasure.

A whole app on PostgreSQL and a private ``valkey-server`` holds bob's cached answer (guardrails
at ``loose``, so it is cached) and his documents. The server is frozen (SIGSTOP: it holds its
data but answers nothing), the erasure raises :class:`ErasureIncomplete` with ``store="cache"``
and a :class:`CacheUnavailable` cause, and nothing is erased yet; once thawed, a second erasure
deletes the cached entry that is still on the server and the documents, and nothing of bob
remains there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.redis.cache import RedisCache
from motadata_ai.api import connect
from motadata_ai.container import Container
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.errors import CacheUnavailable, ErasureIncomplete
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database
from motadata_ai.testing.servers.redis import ValkeyServer

pytestmark = [pytest.mark.faults, pytest.mark.redis, pytest.mark.postgres]

MAIL = "bob@acme.example.com"


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


async def test_erase_with_valkey_down_fails_typed_and_a_rerun_completes(
    tmp_path: Any, postgres_dsn: str, redis_server_factory: Callable[[], ValkeyServer]
) -> None:
    server = redis_server_factory()
    settings = Settings(
        profile="services",
        data_dir=tmp_path,
        postgres_dsn=postgres_dsn,
        redis_url=server.url,
        validation_level="loose",
        requests_per_minute=10_000,
        burst_size=1_000,
    )
    container = Container(settings=settings)
    container.llm.override(
        providers.Object(FunctionLLM(lambda r: "Noted: " + (r.messages[-1].content or "")))
    )
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    namespace = f"erase-{uuid.uuid4().hex[:8]}"
    cache = RedisCache.from_url(server.url, namespace=namespace, connect_timeout=0.5, timeout=0.5, retries=0)
    container.cache.override(providers.Object(cache))
    ask = ChatRequest(model="local/extractive", messages=(Message(role="user", content=f"I am {MAIL}"),))
    async with isolated_database(postgres_dsn) as database:
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=False) as ai:
            await ai.rag("acme").ingest(
                [Document(id="bob-notes", text=f"Reach bob at {MAIL}.")], user_id="bob"
            )
            await ai.gateway.generate(ask, tenant_id="acme", user_id="bob")
            raw = cache.client
            assert [k async for k in raw.scan_iter(match=f"{namespace}:*gw:chat:*")]

            server.freeze()
            try:
                with pytest.raises(ErasureIncomplete) as caught:
                    await ai.privacy.erase_user(tenant_id="acme", user_id="bob")
            finally:
                server.thaw()
            assert caught.value.store == "cache"
            assert isinstance(caught.value.__cause__, CacheUnavailable)
            assert caught.value.completed == {}  # the cache comes first: nothing else was touched
            # the entry is still on the server, and so are the documents: nothing reported erased
            assert [k async for k in raw.scan_iter(match=f"{namespace}:*gw:chat:*")]
            assert len(await ai.rag("acme").list_documents(user_id="bob")) == 1

            report = await ai.privacy.erase_user(tenant_id="acme", user_id="bob")
            assert report.counts["documents"] == 1 and report.counts["cache_entries"] >= 1
            left = [k async for k in raw.scan_iter(match=f"{namespace}:*")]
            values = [await raw.get(k) for k in left if await raw.type(k) in (b"string", "string")]
            assert all(MAIL.encode() not in (v or b"") for v in values)
            assert await ai.privacy.export_user(tenant_id="acme", user_id="bob") is not None
    await cache.aclose()
