"""Delivery rules shared by the bus adapters."""

from __future__ import annotations

import pytest

from motadata_ai.domain.bus.delivery import (
    check_durable,
    check_subscribe_options,
    consumer_name,
    reply_envelope,
)
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import ValidationError


def test_consumer_names_are_stable_and_distinct_per_subject() -> None:
    assert consumer_name("worker", "agent.a.>") == consumer_name("worker", "agent.a.>")
    assert consumer_name("worker", "agent.a.>") != consumer_name("worker", "agent.b.>")
    assert consumer_name("worker", "agent.a.>").startswith("worker_")


@pytest.mark.parametrize("name", ["", "a.b", "a b", "a*", "a>", "x" * 65, 7])
def test_bad_durable_names_are_rejected(name: object) -> None:
    with pytest.raises(ValidationError):
        check_durable(name)  # type: ignore[arg-type]


def test_subscribe_options_must_be_positive_integers() -> None:
    check_subscribe_options(1, 1)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValidationError):
            check_subscribe_options(bad, 1)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            check_subscribe_options(1, bad)  # type: ignore[arg-type]


def request(reply_to: str | None = "_INBOX.abc") -> Envelope:
    return Envelope(tenant_id="acme", type="q", reply_to=reply_to)


def test_reply_gets_the_request_id_as_correlation_id() -> None:
    req = request()
    reply = reply_envelope(req, Envelope(tenant_id="acme", type="a"))
    assert reply is not None and reply.correlation_id == req.id
    kept = reply_envelope(req, Envelope(tenant_id="acme", type="a", correlation_id="mine"))
    assert kept is not None and kept.correlation_id == "mine"


def test_no_reply_is_sent_when_it_must_not_be() -> None:
    answer = Envelope(tenant_id="acme", type="a")
    assert reply_envelope(request(None), answer) is None  # not a request
    assert reply_envelope(request(), None) is None  # handler gave no reply
    assert reply_envelope(request(), {"not": "an envelope"}) is None
    assert reply_envelope(request("agent.acme.other.task"), answer) is None  # not an inbox
    assert reply_envelope(request(), Envelope(tenant_id="globex", type="a")) is None  # other tenant
