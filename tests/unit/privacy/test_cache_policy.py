"""No personal data in the shared gateway cache at strict and medium; every entry written for a
user is listed in that user's cache index."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.privacy.cache_policy import cacheable, user_index_key
from motadata_ai.domain.values.llm import ChatRequest, Message


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


def test_the_policy_per_level() -> None:
    personal = ["my e-mail is bob@example.com"]
    assert not cacheable("strict", personal) and not cacheable("medium", personal)
    assert cacheable("loose", personal)
    assert not cacheable("medium", ["SSN 123-45-6789"]) and not cacheable(
        "medium", ["[REDACTED_EMAIL] wrote"]
    )
    assert cacheable("medium", ["the server at 10.0.0.1"]) and not cacheable(
        "strict", ["the server at 10.0.0.1"]
    )
    assert cacheable("strict", ["How do I reset my password?", None, ""])


def gateway(level: str, cache: InMemoryCache) -> tuple[Gateway, FunctionLLM]:
    llm = FunctionLLM(lambda r: "Noted: " + (r.messages[-1].content or ""))
    config = GatewayConfig(default_model="test/model", validation_level=level, requests_per_minute=10_000)
    return Gateway(llm=llm, embeddings=HashEmbeddings(), config=config, cache=cache), llm


@pytest.mark.parametrize("level", ["strict", "medium"])
async def test_an_answer_about_personal_data_is_not_served_from_the_shared_cache(level: str) -> None:
    cache = InMemoryCache()
    gw, llm = gateway(level, cache)
    personal = ask("my e-mail is bob@example.com, SSN 123-45-6789")
    await gw.generate(personal, tenant_id="acme", user_id="bob")
    again = await gw.generate(personal, tenant_id="acme", user_id="bob")
    assert again.cached is False and len(llm.calls) == 2
    assert all(b"bob@example.com" not in value for value, _ in cache._data.values())
    plain = ask("How do I reset my password?")
    await gw.generate(plain, tenant_id="acme", user_id="bob")
    assert (await gw.generate(plain, tenant_id="acme", user_id="bob")).cached is True


async def test_embeddings_of_personal_text_are_not_cached_at_medium() -> None:
    cache = InMemoryCache()
    gw, _ = gateway("medium", cache)
    await gw.embed(["call bob on +1 415 555 0100"], tenant_id="acme", user_id="bob")
    assert (await gw.embed(["call bob on +1 415 555 0100"], tenant_id="acme", user_id="bob")).cached is False
    await gw.embed(["password reset"], tenant_id="acme", user_id="bob")
    assert (await gw.embed(["password reset"], tenant_id="acme", user_id="bob")).cached is True


async def test_loose_caches_everything_and_lists_it_under_the_user() -> None:
    cache = InMemoryCache()
    gw, _ = gateway("loose", cache)
    await gw.generate(ask("my e-mail is bob@example.com"), tenant_id="acme", user_id="bob")
    await gw.generate(ask("my e-mail is alice@example.com"), tenant_id="acme", user_id="alice")
    await gw.generate(ask("anonymous question"), tenant_id="acme")
    (bobs,) = await cache.index_members(user_index_key("acme", "bob"))
    assert b"bob@example.com" in (await cache.get(bobs) or b"")
    assert await cache.delete_indexed(user_index_key("acme", "bob")) == 1
    assert (
        await gw.generate(ask("my e-mail is bob@example.com"), tenant_id="acme", user_id="bob")
    ).cached is False
    assert (
        await gw.generate(ask("my e-mail is alice@example.com"), tenant_id="acme", user_id="alice")
    ).cached
    assert (await gw.generate(ask("anonymous question"), tenant_id="acme")).cached
