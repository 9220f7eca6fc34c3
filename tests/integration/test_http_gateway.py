"""The OpenAI-compatible HTTP gateway over real HTTP: the openai client and LiteLLM against uvicorn
on loopback, through the gateway to the loopback OpenAI-protocol upstream, with virtual keys."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest

from motadata_ai.adapters.litellm import LiteLLMChat
from motadata_ai.testing.openai_server import OpenAIServer, Reply, ToolCallReply
from tests.integration.http_rig import EMBEDDING_MODEL, MODEL, rig


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


async def test_the_openai_client_gets_a_completion_through_the_gateway(
    fresh_openai_server: OpenAIServer,
) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme", user_id="alice")
        client = r.client(issued.token)
        first = await client.chat.completions.with_raw_response.create(
            model=MODEL, messages=ask("What is MFA?")
        )
        again = await client.chat.completions.with_raw_response.create(
            model=MODEL, messages=ask("What is MFA?")
        )
        await r.gateway.flush()
        records = await r.ledger.usage_records(tenant="acme")
    completion = first.parse()
    assert completion.choices[0].message.content == "echo: What is MFA?"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert first.headers["x-motadata-cached"] == "false" and again.headers["x-motadata-cached"] == "true"
    assert again.parse().choices[0].message.content == "echo: What is MFA?"
    assert len(fresh_openai_server.chat_requests()) == 1  # the second answer came from the gateway's cache
    assert {(rec.tenant_id, rec.user_id) for rec in records} == {("acme", "alice")}
    assert sorted(rec.source for rec in records) == ["cache", "provider"]


async def test_the_openai_client_streams_with_usage(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme")
        stream = await r.client(issued.token).chat.completions.create(
            model=MODEL,
            messages=ask("reset my password please"),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: reset my password please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 2  # really streamed
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_embeddings_as_floats_and_base64(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme")
        client = r.client(issued.token)
        default = await client.embeddings.create(
            model=EMBEDDING_MODEL, input=["vpn", "mfa"]
        )  # base64 on the wire
        floats = await client.embeddings.create(model=EMBEDDING_MODEL, input="vpn", encoding_format="float")
    assert [len(item.embedding) for item in default.data] == [1536, 1536]
    assert floats.data[0].embedding == pytest.approx(default.data[0].embedding, abs=1e-6)
    assert default.data[0].embedding != default.data[1].embedding


async def test_a_tool_call_round_trips_plain_and_streamed(fresh_openai_server: OpenAIServer) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup_asset",
                "description": "Look up an asset",
                "parameters": {
                    "type": "object",
                    "properties": {"tag": {"type": "string"}},
                    "required": ["tag"],
                },
            },
        }
    ]
    fresh_openai_server.queue(
        Reply(tool_calls=[ToolCallReply("lookup_asset", {"tag": "LT-1"})]),
        Reply(tool_calls=[ToolCallReply("lookup_asset", {"tag": "LT-2"})]),
    )
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme")
        client = r.client(issued.token)
        plain = await client.chat.completions.create(model=MODEL, messages=ask("who owns LT-1?"), tools=tools)
        stream = await client.chat.completions.create(
            model=MODEL, messages=ask("who owns LT-2?"), tools=tools, stream=True
        )
        chunks = [chunk async for chunk in stream]
    call = plain.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup_asset", {"tag": "LT-1"})
    assert plain.choices[0].finish_reason == "tool_calls"
    streamed = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert [(tc.function.name, json.loads(tc.function.arguments)) for tc in streamed] == [
        ("lookup_asset", {"tag": "LT-2"})
    ]
    sent = fresh_openai_server.chat_requests()[0].json
    assert sent["tools"][0]["function"]["name"] == "lookup_asset"


async def test_litellm_calls_the_server_as_an_openai_model(fresh_openai_server: OpenAIServer) -> None:
    import litellm

    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme")
        options = {"model": f"openai/{MODEL}", "api_base": f"{r.url}/v1", "api_key": issued.token}
        reply = await litellm.acompletion(messages=ask("hello from litellm"), **options)
        stream = await litellm.acompletion(messages=ask("stream from litellm"), stream=True, **options)
        pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        embedded = await litellm.aembedding(
            model=f"openai/{EMBEDDING_MODEL}", input=["vpn"], api_base=f"{r.url}/v1", api_key=issued.token
        )
    assert reply.choices[0].message.content == "echo: hello from litellm"
    assert "".join(pieces) == "echo: stream from litellm"
    assert len(embedded.data[0]["embedding"]) == 1536


async def test_missing_wrong_and_revoked_keys_get_401_in_the_openai_shape(
    fresh_openai_server: OpenAIServer,
) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme")
        await r.keys.revoke("acme", issued.key.id)
        wrong = issued.token[:-3] + ("xyz" if not issued.token.endswith("xyz") else "abc")
        failures = []
        for token in (issued.token, wrong, "sk-not-a-virtual-key"):
            with pytest.raises(openai.AuthenticationError) as caught:
                await r.client(token).chat.completions.create(model=MODEL, messages=ask("hi"))
            failures.append(caught.value)
        async with httpx.AsyncClient(base_url=r.url) as http:
            missing = await http.post("/v1/chat/completions", json={"model": MODEL, "messages": ask("hi")})
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    assert [f.status_code for f in failures] == [401, 401, 401]
    assert all(f.code == "invalid_api_key" for f in failures)
    assert "revoked" in failures[0].message
    assert fresh_openai_server.chat_requests() == []  # no refused call reached the provider


async def test_a_key_of_tenant_a_asking_for_tenant_b_gets_403(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        key_a = await r.keys.create("tenant-a", user_id="alice")
        auth = {"Authorization": f"Bearer {key_a.token}"}
        async with httpx.AsyncClient(base_url=r.url, headers=auth) as http:
            other = await http.post("/query", json={"query": "open tickets", "tenant_id": "tenant-b"})
            own = await http.post("/query", json={"query": "open tickets", "tenant_id": "tenant-a"})
            implied = await http.post("/query", json={"query": "open tickets"})
            by_header = await http.post(
                "/v1/chat/completions",
                json={"model": MODEL, "messages": ask("hi")},
                headers={"X-Motadata-Tenant": "tenant-b"},
            )
    assert other.status_code == 403 and other.json()["error"]["code"] == "tenant_mismatch"
    assert other.json()["error"]["fields"]["requested_tenant"] == "tenant-b"
    assert by_header.status_code == 403
    assert own.status_code == 200 and implied.status_code == 200
    assert implied.json()["tenant_id"] == "tenant-a"
    assert r.target.asked == [("tenant-a", "alice"), ("tenant-a", "alice")]


async def test_keys_isolate_tenants_cache_and_ledger(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        key_a = await r.keys.create("tenant-a")
        key_b = await r.keys.create("tenant-b")
        a = await r.client(key_a.token).chat.completions.with_raw_response.create(
            model=MODEL, messages=ask("x")
        )
        b = await r.client(key_b.token).chat.completions.with_raw_response.create(
            model=MODEL, messages=ask("x")
        )
        await r.gateway.flush()
        ledger_a = await r.ledger.usage_records(tenant="tenant-a")
        ledger_b = await r.ledger.usage_records(tenant="tenant-b")
    assert a.headers["x-motadata-cached"] == "false"
    assert b.headers["x-motadata-cached"] == "false"  # B never reads A's cached answer
    assert len(fresh_openai_server.chat_requests()) == 2
    assert [rec.tenant_id for rec in ledger_a] == ["tenant-a"] and [rec.tenant_id for rec in ledger_b] == [
        "tenant-b"
    ]


async def test_a_model_outside_the_allow_list_gets_404_listing_the_allowed_ones(
    fresh_openai_server: OpenAIServer,
) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme", allowed_models=[MODEL])
        client = r.client(issued.token)
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="openai/gpt-4o", messages=ask("hi"))
        models = await client.models.list()
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "model_not_found"
    assert error["fields"]["available"] == [MODEL] and MODEL in error["message"]
    assert [m.id for m in models.data] == [MODEL]
    assert fresh_openai_server.chat_requests() == []


async def test_a_key_over_its_rate_limit_gets_429_with_retry_after(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        limited = await r.keys.create("acme", requests_per_minute=2)
        other = await r.keys.create("acme")
        client = r.client(limited.token)
        for text in ("one", "two"):
            await client.chat.completions.create(model=MODEL, messages=ask(text))
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model=MODEL, messages=ask("three"))
        unaffected = await r.client(other.token).chat.completions.create(model=MODEL, messages=ask("four"))
    response = caught.value.response
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert caught.value.body["fields"]["retry_after"] > 0  # type: ignore[index]
    assert unaffected.choices[0].message.content == "echo: four"


async def test_the_tenants_own_rate_limit_answers_429_with_retry_after(
    fresh_openai_server: OpenAIServer,
) -> None:
    async with rig(fresh_openai_server, requests_per_minute=1, burst_size=1) as r:
        issued = await r.keys.create("acme")
        async with httpx.AsyncClient(
            base_url=r.url, headers={"Authorization": f"Bearer {issued.token}"}
        ) as http:
            replies = [
                await http.post("/v1/chat/completions", json={"model": MODEL, "messages": ask(t)})
                for t in ("a", "b")
            ]
    assert [reply.status_code for reply in replies] == [200, 429]
    body = replies[1].json()["error"]
    assert body["type"] == "rate_limit_error" and body["sdk_error"] == "RateLimited"
    assert int(replies[1].headers["Retry-After"]) >= 1 and body["fields"]["retry_after"] > 0


async def test_a_key_over_its_budget_is_refused(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme", budget_usd=0.000001)
        client = r.client(issued.token)
        await client.chat.completions.create(model=MODEL, messages=ask("a question that costs something"))
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model=MODEL, messages=ask("another"))
        stored = await r.keys.store.get(issued.key.id)
    assert caught.value.code == "insufficient_quota"
    assert stored is not None and stored.spent_usd > 0.000001


async def test_malformed_bodies_get_400_and_422_in_the_error_shape(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme")
        auth = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=r.url, headers=auth) as http:
            broken = await http.post("/v1/chat/completions", content=b'{"model": ')
            no_messages = await http.post("/v1/chat/completions", json={"model": MODEL})
            bad_role = await http.post(
                "/v1/chat/completions",
                json={"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]},
            )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    assert no_messages.status_code == 422 and no_messages.json()["error"]["param"] == "messages"
    assert bad_role.status_code == 422 and bad_role.json()["error"]["param"] == "messages.0.role"
    assert fresh_openai_server.chat_requests() == []


async def test_a_stream_cut_by_the_client_is_charged_for_what_it_delivered(
    fresh_openai_server: OpenAIServer,
) -> None:
    long_text = " ".join(f"word{i}" for i in range(400))
    fresh_openai_server.queue(Reply(content=long_text, chunk_delay=0.01))  # a model producing tokens
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme", budget_usd=1000.0)
        stream = await r.client(issued.token).chat.completions.create(
            model=MODEL, messages=ask("tell me everything"), stream=True
        )
        received = 0
        async for _chunk in stream:
            received += 1
            if received == 3:
                break
        await stream.close()
        for _ in range(200):  # the server notices the closed connection and cancels the handler
            await r.gateway.flush()
            records = await r.ledger.usage_records(tenant="acme")
            stored = await r.keys.store.get(issued.key.id)
            if records and stored is not None and stored.spent_usd > 0 and fresh_openai_server.streams_cut:
                break
            await asyncio.sleep(0.02)
        after = await r.client(issued.token).chat.completions.create(
            model=MODEL, messages=ask("still there?")
        )
    assert records, "the cut stream's call was never closed by the gateway"
    cut = records[0]
    assert cut.outcome == "error" and (cut.error or "").endswith("the stream was cut by its caller")
    whole = LiteLLMChat(api_base=fresh_openai_server.base_url).count_tokens(MODEL, long_text)
    assert fresh_openai_server.streams_cut == 1  # the provider call was cancelled mid-stream
    assert 0 < cut.output_tokens < whole / 2  # what was delivered before the cut, not the whole answer
    assert cut.input_tokens > 0 and cut.cost_usd > 0 and cut.source == "provider"
    assert stored is not None and stored.spent_usd == pytest.approx(cut.cost_usd)
    assert after.choices[0].message.content == "echo: still there?"


async def test_streamed_calls_count_against_the_keys_budget(fresh_openai_server: OpenAIServer) -> None:
    async with rig(fresh_openai_server) as r:
        issued = await r.keys.create("acme", budget_usd=0.000001)
        client = r.client(issued.token)
        stream = await client.chat.completions.create(
            model=MODEL, messages=ask("a streamed question that costs something"), stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        stored = await r.keys.store.get(issued.key.id)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model=MODEL, messages=ask("another"), stream=True)
        await r.gateway.flush()
        records = await r.ledger.usage_records(tenant="acme")
    assert text == "echo: a streamed question that costs something"
    assert caught.value.code == "insufficient_quota"
    assert stored is not None and stored.spent_usd == pytest.approx(records[0].cost_usd)
    assert stored.spent_usd > 0.000001
    assert len(records) == 1 and len(fresh_openai_server.chat_requests()) == 1
