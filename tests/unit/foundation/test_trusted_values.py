"""``trusted`` builds the same value as pydantic's ``model_construct`` (the gateway's hot paths use
it for values whose fields are already valid), and the gateway's cached key builders give the
keys of the one key scheme."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, PrivateAttr

from motadata_ai.domain.gateway import caching
from motadata_ai.domain.gateway.limits import bucket_key, circuit_key
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import InvalidTenant
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, StreamChunk, ToolCall, Usage
from motadata_ai.domain.values.trusted import trusted
from motadata_ai.domain.values.usage import UsageRecord

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (Usage, {"input_tokens": 3, "output_tokens": 4}),
        (Message, {"role": "assistant", "content": "hi"}),
        (ToolCall, {"id": "c1", "name": "lookup", "arguments": "{\"q\": \"vpn\"}"}),
        (StreamChunk, {"delta": "x"}),
        (ChatResponse, {"id": "r1", "model": "m", "message": Message(role="assistant", content="ok")}),
        (UsageRecord, {"id": "u1", "tenant_id": "acme", "model": "m", "created_at": NOW, "cost_usd": 0.5}),
    ],
)
def test_trusted_equals_model_construct(cls: type[BaseModel], fields: dict[str, object]) -> None:
    built = trusted(cls, **fields)
    expected = cls.model_construct(**fields)
    assert built == expected
    assert built.model_dump() == expected.model_dump()
    assert built.model_fields_set == expected.model_fields_set == set(fields)


def test_missing_fields_get_fresh_defaults_from_their_factories() -> None:
    first = trusted(UsageRecord, tenant_id="acme", model="m")
    second = trusted(UsageRecord, tenant_id="acme", model="m")
    assert first.id != second.id and len(first.id) == 32
    assert first.outcome == "ok" and first.source == "provider" and first.input_tokens == 0


class WithPrivate(BaseModel):
    name: str
    _seen: int = PrivateAttr(default=7)


def test_a_model_the_shortcut_does_not_cover_is_built_by_model_construct() -> None:
    built = trusted(WithPrivate, name="x")
    assert built.name == "x" and built._seen == 7


def test_cached_key_builders_give_the_scheme_keys() -> None:
    request = ChatRequest(model="m", messages=(Message(role="user", content="vpn"),))
    key = caching.chat_key("acme", request, variant="medium")
    assert key == keys.tenant_key("acme", keys.GATEWAY, "chat", key.rsplit(":", 1)[1])
    emb = caching.embedding_key("acme", "e", ["a"])
    assert emb == keys.tenant_key("acme", keys.GATEWAY, "emb", emb.rsplit(":", 1)[1])
    assert bucket_key("acme", "tok", "openai/gpt-4o") == keys.tenant_key(
        "acme", keys.RATE_LIMITS, "model", "openai/gpt-4o", "tok"
    )
    assert circuit_key("openai/gpt-4o") == keys.shared_key(keys.BREAKERS, "openai/gpt-4o")


def test_cached_key_builders_still_refuse_a_bad_tenant_every_time() -> None:
    request = ChatRequest(model="m", messages=(Message(role="user", content="vpn"),))
    for _ in range(2):
        with pytest.raises(InvalidTenant):
            caching.chat_key("not a tenant!", request)
        with pytest.raises(InvalidTenant):
            bucket_key("not a tenant!", "req")
