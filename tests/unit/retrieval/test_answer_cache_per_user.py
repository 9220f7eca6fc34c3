"""RAG answers in the gateway cache: an answer built from a user's own documents is cached for that
user only (never served to another user of the tenant) and listed in the user's cache index, so
erasing the user removes it; an answer built from shared documents stays shared."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.privacy.cache_policy import user_index_key
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.settings import Settings

QUESTION = "What is the VPN gateway address?"


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


class AnswerModel:
    """A scripted model that counts the answer calls (those carrying the numbered passages)."""

    def __init__(self) -> None:
        self.answers = 0

    def __call__(self, request: ChatRequest) -> str:
        if "[1]" in (request.messages[0].content or ""):
            self.answers += 1
        return "The VPN gateway is vpn.example.com [1]."


@pytest_asyncio.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[AI, AnswerModel]]:
    settings = Settings(
        profile="memory",
        data_dir=tmp_path / "data",
        llm_model="test-model",
        embedding_model="hash",
        validation_level="loose",
        similarity_threshold=0.0,
    )
    model = AnswerModel()
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(model)))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with connect(container=container, warm_up=False) as ai:
        yield ai, model


async def test_an_answer_from_a_users_own_documents_is_not_served_to_another_user(
    app: tuple[AI, AnswerModel],
) -> None:
    ai, model = app
    rag = ai.rag("acme")
    await rag.ingest(
        [Document(id="alice-vpn", text="Alice's VPN gateway is vpn.example.com, her PIN is 4711.")],
        user_id="alice",
    )
    await rag.query(QUESTION, user_id="alice")
    await rag.query(QUESTION, user_id="alice")
    assert model.answers == 1  # alice's second query came from the cache
    await rag.query(QUESTION, user_id="bob")
    assert model.answers == 2  # bob's was answered afresh, not from alice's cache entry
    await rag.query(QUESTION)
    assert model.answers == 3  # nor is a query without a user served alice's answer

    cache = ai.port("cache")
    members = await cache.index_members(user_index_key("acme", "alice"))
    # her answer and what was derived from her queries (the query embedding) are listed as hers
    assert {key.split(":")[2] for key in members} == {"chat", "emb"}
    report = await ai.privacy.erase_user(tenant_id="acme", user_id="alice")
    assert report.counts["cache_entries"] >= 1
    assert await cache.index_members(user_index_key("acme", "alice")) == []


async def test_an_answer_from_shared_documents_is_shared_and_still_indexed_per_user(
    app: tuple[AI, AnswerModel],
) -> None:
    ai, model = app
    rag = ai.rag("acme")
    await rag.ingest([Document(id="vpn-howto", text="The VPN gateway address is vpn.example.com.")])
    await rag.query(QUESTION, user_id="alice")
    await rag.query(QUESTION, user_id="bob")
    assert model.answers == 1  # the tenant's shared knowledge: one answer serves both
    cache = ai.port("cache")
    members = await cache.index_members(user_index_key("acme", "alice"))
    # her answer and what was derived from her queries (the query embedding) are listed as hers
    assert {key.split(":")[2] for key in members} == {"chat", "emb"}


async def test_an_answer_after_conversation_turns_is_cached_for_the_user_only(
    app: tuple[AI, AnswerModel],
) -> None:
    ai, model = app
    rag = ai.rag("acme")
    await rag.ingest([Document(id="vpn-howto", text="The VPN gateway address is vpn.example.com.")])
    for user in ("alice", "bob"):
        await rag.query("Hello, I need the VPN.", user_id=user, conversation_id=f"c-{user}")
    assert model.answers == 1  # a first turn from shared documents: shared
    for user in ("alice", "bob"):  # the same earlier turn and question: the same prompt for both
        await rag.query(QUESTION, user_id=user, conversation_id=f"c-{user}")
    assert model.answers == 3  # bob's answer after his own turns was not alice's from the cache
