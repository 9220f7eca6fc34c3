"""The bus codec: round trips, and a typed MalformedMessage for everything else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from motadata_ai.domain.bus.codec import MalformedMessage, Rejection, check_route, decode, encode
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import ValidationError


def wire(**overrides: Any) -> bytes:
    body = Envelope(tenant_id="acme", type="t", payload={"x": 1}).model_dump(mode="json")
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_round_trip_keeps_every_field() -> None:
    sent = Envelope(
        tenant_id="acme.eu", type="task", payload={"n": [1, 2.5, None, "ü"]}, correlation_id="c",
        reply_to="_INBOX.x",
    )
    assert decode(encode(sent)) == sent
    assert decode(encode(sent), subject="agent.acme~eu.bot.task") == sent


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not_json"),
        (b"{", "not_json"),
        (b"", "not_json"),
        (b"42", "not_an_object"),
        (b'"text"', "not_an_object"),
        (wire(schema_version=2), "unsupported_version"),
        (wire(schema_version="1"), "unsupported_version"),
        (wire(schema_version=True), "unsupported_version"),
        (wire(schema_version=...), "unsupported_version"),
        (wire(tenant_id="has space"), "invalid_tenant"),
        (wire(tenant_id=""), "invalid_tenant"),
        (wire(tenant_id=...), "invalid_tenant"),
        (wire(type=...), "invalid_envelope"),
        (wire(payload=[1, 2]), "invalid_envelope"),
        (wire(created_at="yesterday"), "invalid_envelope"),
    ],
)
def test_garbage_raises_malformed_message_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage) as caught:
        decode(data, subject="agent.acme.bot.task")
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValidationError)
    assert caught.value.subject == "agent.acme.bot.task"


def test_envelope_of_another_tenant_than_its_subject_is_rejected() -> None:
    data = encode(Envelope(tenant_id="globex", type="t"))
    with pytest.raises(MalformedMessage) as caught:
        decode(data, subject="agent.acme.bot.task")
    assert caught.value.reason == "tenant_mismatch"
    assert caught.value.tenant_id == "globex"
    rejection = Rejection.of("agent.acme.bot.task", caught.value)
    assert (rejection.reason, rejection.tenant_id, rejection.subject) == (
        "tenant_mismatch", "globex", "agent.acme.bot.task"
    )
    assert rejection.envelope_id is not None


def test_subject_without_a_tenant_is_rejected() -> None:
    with pytest.raises(MalformedMessage) as caught:
        check_route("agent", Envelope(tenant_id="acme", type="t"))
    assert caught.value.reason == "invalid_subject"


def test_size_limits_apply_both_ways() -> None:
    big = Envelope(tenant_id="acme", type="t", payload={"blob": "x" * 2000})
    with pytest.raises(MalformedMessage) as caught:
        encode(big, max_bytes=1000)
    assert caught.value.reason == "too_large"
    with pytest.raises(MalformedMessage) as caught:
        decode(encode(big), max_bytes=1000)
    assert caught.value.reason == "too_large"


def test_unserialisable_payload_is_a_malformed_message() -> None:
    with pytest.raises(MalformedMessage) as caught:
        encode(Envelope(tenant_id="acme", type="t", payload={"when": object()}))
    assert caught.value.reason == "invalid_envelope"


def test_encode_refuses_non_envelopes() -> None:
    with pytest.raises(MalformedMessage):
        encode({"tenant_id": "acme"})  # type: ignore[arg-type]
