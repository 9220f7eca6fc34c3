"""The gateway over real HTTP: LiteLLMChat/LiteLLMEmbeddings against the loopback OpenAI-protocol
server, with its 429s, 500s and slow answers."""

from __future__ import annotations

from typing import Any

import pytest

from motadata_ai.adapters.litellm import LiteLLMChat, LiteLLMEmbeddings
from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog, InMemoryUsageLedger
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.domain.gateway import Gateway, GatewayConfig, RetriesExhausted
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.testing.openai_server import OpenAIServer, Reply

MODEL = "openai/gpt-4o-mini"


class Sleeps:
    """An injected sleep that records each delay and yields without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def build(
    server: OpenAIServer, **config: Any
) -> tuple[Gateway, InMemoryUsageLedger, Sleeps, RecordingTelemetry]:
    sleeps = Sleeps()
    ledger = InMemoryUsageLedger()
    telemetry = RecordingTelemetry()
    config.setdefault("default_model", MODEL)
    config.setdefault("default_embedding_model", "openai/text-embedding-3-small")
    gateway = Gateway(
        llm=LiteLLMChat(api_base=server.base_url, api_key="sk-test", timeout=10),
        embeddings=LiteLLMEmbeddings(api_base=server.base_url, api_key="sk-test", timeout=10),
        config=GatewayConfig(**config),
        cache=InMemoryCache(),
        ledger=ledger,
        audit=InMemoryAuditLog(),
        telemetry=telemetry,
        sleep=sleeps,
    )
    return gateway, ledger, sleeps, telemetry


def ask(text: str, model: str = MODEL) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message(role="user", content=text),))


async def test_miss_then_hit_with_cost_from_the_cost_map(fresh_openai_server: OpenAIServer) -> None:
    gateway, ledger, _, telemetry = build(fresh_openai_server)
    first = await gateway.generate(ask("what is MFA?"), tenant_id="acme", user_id="u1")
    second = await gateway.generate(ask("what is MFA?"), tenant_id="acme", user_id="u1")
    assert first.text == "echo: what is MFA?" and second.cached and second.text == first.text
    assert len(fresh_openai_server.chat_requests()) == 1
    assert first.cost_usd > 0  # LiteLLM's cost map knows gpt-4o-mini
    await gateway.flush()
    records = await ledger.usage_records(tenant="acme")
    assert sorted(r.source for r in records) == ["cache", "provider"]
    assert (await ledger.cache_savings(tenant="acme")).saved_usd == pytest.approx(first.cost_usd)
    span = telemetry.spans[0]
    assert span.name == f"chat {MODEL}" and span.attributes["gen_ai.provider.name"] == "openai"


async def test_spans_of_calls_over_http_name_the_server(fresh_openai_server: OpenAIServer) -> None:
    gateway, _, _, telemetry = build(fresh_openai_server)
    await gateway.generate(ask("what is MFA?"), tenant_id="acme")
    await gateway.embed(["what is MFA?"], tenant_id="acme")
    await gateway.generate(ask("what is MFA?"), tenant_id="acme")  # a cache hit: no server
    chat, embed, hit = telemetry.spans
    server = (fresh_openai_server.host, fresh_openai_server.port)
    for span in (chat, embed):
        assert (span.attributes["server.address"], span.attributes["server.port"]) == server
    assert "server.address" not in hit.attributes


async def test_429_is_retried_after_the_retry_after_it_sent(fresh_openai_server: OpenAIServer) -> None:
    gateway, ledger, sleeps, _ = build(fresh_openai_server)
    fresh_openai_server.queue(
        Reply(status=429, retry_after=2, message="slow down"), Reply(content="fine now")
    )
    response = await gateway.generate(ask("q"), tenant_id="acme")
    assert response.text == "fine now"
    assert len(sleeps.delays) == 1 and sleeps.delays[0] >= 2.0
    await gateway.flush()
    (record,) = await ledger.usage_records(tenant="acme")
    assert (
        record.attempts == 2
        and record.outcome == "ok"
        and record.cost_usd == pytest.approx(response.cost_usd)
    )


async def test_500s_exhaust_retries_then_fall_back_to_the_next_model(
    fresh_openai_server: OpenAIServer,
) -> None:
    gateway, _, sleeps, _ = build(fresh_openai_server, max_retries=2, fallback_models=("openai/gpt-4o",))
    fresh_openai_server.queue(
        *(Reply(status=500, message="boom") for _ in range(3)), Reply(content="from 4o")
    )
    response = await gateway.generate(ask("q"), tenant_id="acme")
    assert response.text == "from 4o" and response.model.endswith("gpt-4o")
    models = [r.json["model"] for r in fresh_openai_server.chat_requests()]
    assert models == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini", "gpt-4o"]
    assert len(sleeps.delays) == 2  # two retries of the first model, none before the fallback


async def test_provider_down_gives_retries_exhausted_charged_once_and_nothing_cached(
    fresh_openai_server: OpenAIServer,
) -> None:
    gateway, ledger, _, _ = build(fresh_openai_server, max_retries=3)
    fresh_openai_server.queue(*(Reply(status=503, message="down") for _ in range(4)))
    with pytest.raises(RetriesExhausted) as caught:
        await gateway.generate(ask("q"), tenant_id="acme")
    attempts = caught.value.attempts
    assert [a["error"] for a in attempts] == ["ProviderUnavailable"] * 4
    assert [a["status_code"] for a in attempts] == [503] * 4
    await gateway.flush()
    (record,) = await ledger.usage_records(tenant="acme")
    assert record.outcome == "error" and record.cost_usd == 0.0 and record.attempts == 4
    response = await gateway.generate(ask("q"), tenant_id="acme")  # the server is back; nothing stale
    assert not response.cached and response.text == "echo: q"


async def test_slow_answers_time_out_and_are_retried(fresh_openai_server: OpenAIServer) -> None:
    gateway, _, _, _ = build(fresh_openai_server, max_retries=1)
    fresh_openai_server.queue(Reply(delay=3.0, content="late"), Reply(content="quick"))
    response = await gateway.generate(ask("q"), tenant_id="acme", timeout=0.5)
    assert response.text == "quick"
    fresh_openai_server.queue(Reply(delay=3.0), Reply(delay=3.0))
    with pytest.raises(RetriesExhausted) as caught:
        await gateway.generate(ask("q2"), tenant_id="acme", timeout=0.5)
    assert [a["error"] for a in caught.value.attempts] == ["ProviderTimeout", "ProviderTimeout"]


async def test_stream_over_http_is_cached_and_replayed(fresh_openai_server: OpenAIServer) -> None:
    gateway, ledger, _, _ = build(fresh_openai_server)
    fresh_openai_server.queue(Reply(content="reset it from the portal"))
    live = [c async for c in gateway.stream(ask("how do I reset?"), tenant_id="acme")]
    replay = [c async for c in gateway.stream(ask("how do I reset?"), tenant_id="acme")]
    text = "".join(c.delta for c in live)
    assert text == "reset it from the portal" == "".join(c.delta for c in replay)
    assert len(fresh_openai_server.chat_requests()) == 1
    assert replay[-1].finish_reason == "stop"
    await gateway.flush()
    provider = [r for r in await ledger.usage_records(tenant="acme") if r.source == "provider"]
    assert provider[0].output_tokens > 0


async def test_embeddings_over_http_are_cached_per_tenant(fresh_openai_server: OpenAIServer) -> None:
    gateway, _, _, _ = build(fresh_openai_server)
    first = await gateway.embed(["vpn", "mfa"], tenant_id="acme")
    again = await gateway.embed(["vpn", "mfa"], tenant_id="acme")
    await gateway.embed(["vpn", "mfa"], tenant_id="globex")
    assert len(first.vectors) == 2 and len(first.vectors[0]) == 1536
    assert again.cached and again.vectors == first.vectors
    assert len([r for r in fresh_openai_server.requests if r.path.endswith("/embeddings")]) == 2


async def test_an_answer_without_choices_is_retried_then_falls_back(
    fresh_openai_server: OpenAIServer,
) -> None:
    gateway, _, sleeps, _ = build(fresh_openai_server, max_retries=1, fallback_models=["openai/gpt-4o"])
    empty = Reply(empty_choices=True)
    fresh_openai_server.queue(empty, empty, Reply(content="from gpt-4o"))
    response = await gateway.generate(ask("status of INC-7?"), tenant_id="acme")
    assert response.text == "from gpt-4o"
    assert [r.json["model"] for r in fresh_openai_server.chat_requests()] == ["gpt-4o-mini"] * 2 + ["gpt-4o"]
    assert len(sleeps.delays) == 1


async def test_a_model_called_bare_and_qualified_is_one_model_in_the_ledger(
    fresh_openai_server: OpenAIServer,
) -> None:
    gateway, ledger, _, _ = build(fresh_openai_server, enable_caching=False)
    await gateway.generate(ask("one", model="gpt-4o-mini"), tenant_id="acme")
    await gateway.generate(ask("two", model="openai/gpt-4o-mini"), tenant_id="acme")
    await gateway.embed(["three"], tenant_id="acme", model="text-embedding-3-small")
    await gateway.flush()
    by_model = await ledger.usage_by_model(tenant="acme")
    assert [(s.model, s.calls) for s in by_model] == [
        ("openai/gpt-4o-mini", 2),
        ("openai/text-embedding-3-small", 1),
    ]
    assert {r.provider for r in await ledger.usage_records(tenant="acme")} == {"openai"}
