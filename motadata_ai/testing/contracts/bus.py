"""The BusPort contract: one suite every message-bus adapter must pass.

Subclass :class:`BusContract` in a module pytest collects (its name must start with ``Test``) and
implement :meth:`~BusContract.make_bus` to return a bus over an empty stream that captures
``subjects``; adapters behind a server subclass :class:`BusServerContract` and implement
:meth:`~BusServerContract.make_unreachable_bus` to connect to a server that does not answer
(password ``s3cret`` in its URL) and
:meth:`~BusContract.inject_raw` when the adapter has no ``inject_raw`` method::

    class TestMyBus(BusContract):
        async def make_bus(self, subjects: tuple[str, ...]) -> BusPort:
            return await MyBus.connect(url, subjects=subjects)

Every test uses its own subject root (``self.root``), so tests never see each other's messages.
Subjects follow the SDK's rule ``{root}.{tenant}.{name}...``. The suite proves delivery,
wildcards, tenant isolation, durable consumers (start, resume, shared work), redelivery and
``max_deliver``, de-duplication by envelope id, request/reply, rejection of malformed and
foreign-tenant messages without crashing the consumer, bad input, and error translation.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from motadata_ai.domain.bus.codec import MalformedMessage, encode
from motadata_ai.domain.bus.subjects import InvalidSubject, tenant_token, user_token
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.bus import BusError, BusPort, BusTimeout, BusUnavailable, Subscription
from motadata_ai.testing.contracts.health import assert_probe_answers

__all__ = ["SECRET", "BusContract", "BusServerContract", "Inbox", "eventually"]

SECRET = "s3cret"
A = "tenant-a"
B = "tenant-b"


async def eventually(condition: Callable[[], bool], *, within: float = 15.0, what: str = "condition") -> None:
    """Wait until ``condition()`` holds; fail the test if it does not within ``within`` seconds
    (a liveness bound, not a speed assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.01)


class Inbox:
    """A recording handler: ``await inbox(envelope)`` stores it; ``types`` lists what arrived."""

    def __init__(self, reply: Callable[[Envelope], Envelope | None] | None = None) -> None:
        self.received: list[Envelope] = []
        self._reply = reply

    async def __call__(self, envelope: Envelope) -> Envelope | None:
        self.received.append(envelope)
        return self._reply(envelope) if self._reply else None

    @property
    def types(self) -> list[str]:
        """The ``type`` of every envelope received, in order."""
        return [e.type for e in self.received]

    async def wait_for(self, type_: str, *, within: float = 15.0) -> None:
        """Wait until an envelope of ``type_`` has arrived."""
        await eventually(lambda: type_ in self.types, within=within, what=f"delivery of {type_!r}")


def env(tenant: str, type_: str, **payload: Any) -> Envelope:
    """An envelope for the suite."""
    return Envelope(tenant_id=tenant, type=type_, payload=payload)


class BusContract:
    """Behaviour every :class:`BusPort` adapter shares; subclasses provide the buses."""

    async def make_bus(self, subjects: tuple[str, ...]) -> BusPort:
        """A bus over a fresh, empty stream capturing ``subjects``."""
        raise NotImplementedError

    async def inject_raw(self, bus: BusPort, subject: str, data: bytes) -> None:
        """Put raw bytes on ``subject`` as a foreign publisher would."""
        inject: Callable[[str, bytes], Awaitable[None]] = getattr(bus, "inject_raw")  # noqa: B009
        await inject(subject, data)

    def rejection_reasons(self, bus: BusPort) -> list[str] | None:
        """The reasons of the messages ``bus`` dropped, when it records them (``rejections``)."""
        rejections = getattr(bus, "rejections", None)
        return None if rejections is None else [r.reason for r in rejections]

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _buses(self) -> AsyncIterator[None]:
        self.root = f"c{uuid.uuid4().hex[:10]}"
        self._made: list[BusPort] = []
        self._subs: list[Subscription] = []
        yield
        for sub in self._subs:
            await sub.stop()
        for made in self._made:
            await made.aclose()

    async def bus(self) -> BusPort:
        """A fresh bus for this test's root (``{root}.>``), closed afterwards."""
        made = await self.make_bus((f"{self.root}.>",))
        self._made.append(made)
        return made

    def subject(self, tenant: str, *names: str) -> str:
        """``{root}.{tenant}.{names...}`` (``task`` when no names)."""
        return ".".join((self.root, tenant_token(tenant), *(names or ("task",))))

    def pattern(self, tenant: str | None = None) -> str:
        """Every subject of ``tenant`` (or of every tenant) in this test."""
        return f"{self.root}.{tenant_token(tenant)}.>" if tenant else f"{self.root}.>"

    async def subscribe(self, bus: BusPort, subject: str, handler: Any, **options: Any) -> Subscription:
        """Subscribe; the subscription is stopped after the test."""
        sub = await bus.subscribe(subject, handler, **options)
        self._subs.append(sub)
        return sub

    # -- delivery --------------------------------------------------------------------------------

    async def test_published_envelope_arrives_intact(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(A), inbox)
        sent = Envelope(
            tenant_id=A, type="incident.created", payload={"id": 7, "text": "VPN down ✓", "tags": ["a"]},
            correlation_id="c-1",
        )
        await bus.publish(self.subject(A, "itsm", "events"), sent)
        await inbox.wait_for("incident.created")
        assert inbox.received == [sent]

    async def test_wildcards_match_one_token_or_the_rest(self) -> None:
        bus = await self.bus()
        star, rest = Inbox(), Inbox()
        await self.subscribe(bus, f"{self.root}.{A}.*.task", star)
        await self.subscribe(bus, f"{self.root}.{A}.agent-1.>", rest)
        await bus.publish(self.subject(A, "agent-1", "task"), env(A, "one"))
        await bus.publish(self.subject(A, "agent-2", "task"), env(A, "two"))
        await bus.publish(self.subject(A, "agent-1", "result", "x"), env(A, "three"))
        await bus.publish(self.subject(A, "agent-1", "done"), env(A, "sentinel"))
        await rest.wait_for("sentinel")
        await bus.publish(self.subject(A, "agent-9", "task"), env(A, "star-sentinel"))
        await star.wait_for("star-sentinel")
        assert star.types == ["one", "two", "star-sentinel"]
        assert rest.types == ["one", "three", "sentinel"]

    async def test_tenants_are_isolated_by_subject(self) -> None:
        bus = await self.bus()
        a_inbox, b_inbox = Inbox(), Inbox()
        await self.subscribe(bus, self.pattern(A), a_inbox, durable="worker")
        await self.subscribe(bus, self.pattern(B), b_inbox, durable="worker")
        for i in range(3):
            await bus.publish(self.subject(B, "agent"), env(B, f"b{i}"))
            await bus.publish(self.subject(A, "agent"), env(A, f"a{i}"))
        await a_inbox.wait_for("a2")
        await b_inbox.wait_for("b2")
        assert a_inbox.types == ["a0", "a1", "a2"]
        assert b_inbox.types == ["b0", "b1", "b2"]
        assert {e.tenant_id for e in a_inbox.received} == {A}
        assert {e.tenant_id for e in b_inbox.received} == {B}

    async def test_tenant_ids_with_dots_round_trip(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        await self.subscribe(bus, self.pattern("acme.eu"), inbox)
        await self.subscribe(bus, self.pattern("acme"), Inbox())
        await bus.publish(self.subject("acme.eu", "agent"), env("acme.eu", "dotted"))
        await inbox.wait_for("dotted")
        assert inbox.received[0].tenant_id == "acme.eu"

    async def test_ephemeral_subscription_sees_only_new_messages(self) -> None:
        bus = await self.bus()
        await bus.publish(self.subject(A), env(A, "before"))
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(A), inbox)
        await bus.publish(self.subject(A), env(A, "after"))
        await inbox.wait_for("after")
        assert inbox.types == ["after"]

    async def test_stopped_subscription_receives_nothing_more(self) -> None:
        bus = await self.bus()
        stopped, live = Inbox(), Inbox()
        sub = await bus.subscribe(self.pattern(A), stopped)
        await self.subscribe(bus, self.pattern(A), live)
        await bus.publish(self.subject(A), env(A, "first"))
        await stopped.wait_for("first")
        await sub.stop()
        await bus.publish(self.subject(A), env(A, "second"))
        await live.wait_for("second")
        assert stopped.types == ["first"]

    # -- durable consumers -----------------------------------------------------------------------

    async def test_new_durable_consumer_starts_at_the_oldest_message(self) -> None:
        bus = await self.bus()
        await bus.publish(self.subject(A), env(A, "early-1"))
        await bus.publish(self.subject(A), env(A, "early-2"))
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(A), inbox, durable="late-worker")
        await inbox.wait_for("early-2")
        assert inbox.types == ["early-1", "early-2"]

    async def test_durable_consumer_resumes_where_it_stopped(self) -> None:
        bus = await self.bus()
        first = Inbox()
        sub = await bus.subscribe(self.pattern(A), first, durable="worker")
        await bus.publish(self.subject(A), env(A, "m1"))
        await bus.publish(self.subject(A), env(A, "m2"))
        await first.wait_for("m2")
        await sub.stop()
        await bus.publish(self.subject(A), env(A, "m3"))
        await bus.publish(self.subject(A), env(A, "m4"))
        second = Inbox()
        await self.subscribe(bus, self.pattern(A), second, durable="worker")
        await second.wait_for("m4")
        assert first.types == ["m1", "m2"]
        assert second.types == ["m3", "m4"]

    async def test_subscriptions_sharing_a_durable_consumer_share_its_messages(self) -> None:
        bus = await self.bus()
        one, two = Inbox(), Inbox()
        await self.subscribe(bus, self.pattern(A), one, durable="pool")
        await self.subscribe(bus, self.pattern(A), two, durable="pool")
        sent = [f"job-{i}" for i in range(20)]
        for name in sent:
            await bus.publish(self.subject(A), env(A, name))
        await eventually(lambda: len(one.types) + len(two.types) >= 20, what="all jobs handled")
        assert sorted(one.types + two.types) == sorted(sent)

    async def test_same_durable_name_on_different_subjects_are_separate_consumers(self) -> None:
        bus = await self.bus()
        a_inbox, b_inbox = Inbox(), Inbox()
        await self.subscribe(bus, self.pattern(A), a_inbox, durable="worker")
        await self.subscribe(bus, self.pattern(B), b_inbox, durable="worker")
        await bus.publish(self.subject(A), env(A, "for-a"))
        await bus.publish(self.subject(B), env(B, "for-b"))
        await a_inbox.wait_for("for-a")
        await b_inbox.wait_for("for-b")
        assert a_inbox.types == ["for-a"] and b_inbox.types == ["for-b"]

    # -- redelivery ------------------------------------------------------------------------------

    async def test_message_is_redelivered_after_the_handler_raises(self) -> None:
        bus = await self.bus()
        attempts: list[str] = []
        handled: list[str] = []

        async def flaky(envelope: Envelope) -> None:
            attempts.append(envelope.id)
            if len(attempts) < 3:
                raise RuntimeError("temporary failure")
            handled.append(envelope.type)

        await self.subscribe(bus, self.pattern(A), flaky, durable="flaky", max_deliver=5)
        sent = env(A, "retry-me")
        await bus.publish(self.subject(A), sent)
        await eventually(lambda: handled == ["retry-me"], what="successful redelivery")
        assert attempts == [sent.id] * 3

    async def test_max_deliver_stops_redelivery_and_the_consumer_goes_on(self) -> None:
        bus = await self.bus()
        calls: list[str] = []

        async def handler(envelope: Envelope) -> None:
            calls.append(envelope.type)
            if envelope.type == "poison":
                raise ValueError("cannot handle this")

        await self.subscribe(bus, self.pattern(A), handler, durable="strict", max_deliver=2)
        await bus.publish(self.subject(A), env(A, "poison"))
        await bus.publish(self.subject(A), env(A, "fine"))
        await eventually(lambda: "fine" in calls and calls.count("poison") >= 2, what="poison given up")
        await bus.publish(self.subject(A), env(A, "after"))
        await eventually(lambda: "after" in calls, what="delivery after the poison message")
        assert calls.count("poison") == 2
        reasons = self.rejection_reasons(bus)
        if reasons is not None:
            assert "max_deliver" in reasons

    async def test_concurrency_lets_handlers_overlap(self) -> None:
        bus = await self.bus()
        running = 0
        peak = 0
        release = asyncio.Event()

        async def slow(envelope: Envelope) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

        await self.subscribe(bus, self.pattern(A), slow, durable="parallel", concurrency=4)
        for i in range(6):
            await bus.publish(self.subject(A), env(A, f"p{i}"))
        await eventually(lambda: peak == 4, what="four handlers running at once")
        release.set()
        await eventually(lambda: running == 0, what="handlers finishing")
        assert peak == 4

    # -- de-duplication --------------------------------------------------------------------------

    async def test_republished_envelope_id_is_delivered_once(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(A), inbox, durable="dedup")
        sent = env(A, "once")
        await bus.publish(self.subject(A), sent)
        await bus.publish(self.subject(A), sent)
        await bus.publish(self.subject(A), Envelope(id=sent.id, tenant_id=A, type="once-again"))
        await bus.publish(self.subject(A), env(A, "sentinel"))
        await inbox.wait_for("sentinel")
        assert inbox.types == ["once", "sentinel"]

    async def test_consumer_handles_an_envelope_id_once_even_if_the_stream_holds_it_twice(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(A), inbox, durable="idempotent")
        twice = encode(env(A, "twice"))
        await self.inject_raw(bus, self.subject(A), twice)
        await self.inject_raw(bus, self.subject(A), twice)
        await bus.publish(self.subject(A), env(A, "sentinel"))
        await inbox.wait_for("sentinel")
        assert inbox.types == ["twice", "sentinel"]

    # -- request / reply -------------------------------------------------------------------------

    async def test_request_gets_the_handlers_reply(self) -> None:
        bus = await self.bus()

        def answer(request: Envelope) -> Envelope:
            return Envelope(tenant_id=request.tenant_id, type="answer", payload={"echo": request.payload})

        await self.subscribe(bus, self.pattern(A), Inbox(reply=answer), durable="responder")
        request = env(A, "question", q="status?")
        reply = await bus.request(self.subject(A, "agent", "task"), request, timeout=10)
        assert reply.type == "answer"
        assert reply.payload == {"echo": {"q": "status?"}}
        assert reply.correlation_id == request.id
        assert reply.tenant_id == A

    async def test_request_without_responder_times_out(self) -> None:
        bus = await self.bus()
        with pytest.raises(BusTimeout) as caught:
            await bus.request(self.subject(A), env(A, "nobody-home"), timeout=0.5)
        assert caught.value.subject == self.subject(A)

    async def test_handler_returning_none_gives_no_reply(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(A), inbox)
        with pytest.raises(BusTimeout):
            await bus.request(self.subject(A), env(A, "silent"), timeout=0.5)
        assert inbox.types == ["silent"]

    async def test_reply_of_another_tenant_is_never_returned(self) -> None:
        bus = await self.bus()

        def foreign(request: Envelope) -> Envelope:
            return Envelope(tenant_id=B, type="leak")

        await self.subscribe(bus, self.pattern(A), Inbox(reply=foreign))
        with pytest.raises(BusTimeout):
            await bus.request(self.subject(A), env(A, "q"), timeout=0.5)

    async def test_concurrent_requests_get_their_own_replies(self) -> None:
        bus = await self.bus()

        def answer(request: Envelope) -> Envelope:
            return Envelope(tenant_id=request.tenant_id, type="answer", payload={"n": request.payload["n"]})

        await self.subscribe(bus, self.pattern(A), Inbox(reply=answer), durable="calc", concurrency=8)
        replies = await asyncio.gather(
            *(bus.request(self.subject(A), env(A, "q", n=i), timeout=10) for i in range(20))
        )
        assert [r.payload["n"] for r in replies] == list(range(20))

    # -- malformed and foreign-tenant messages ---------------------------------------------------

    async def test_malformed_and_foreign_tenant_messages_are_dropped_not_delivered(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(A), inbox, durable="guarded")
        subject = self.subject(A)
        good_b = encode(env(B, "foreign"))
        newer = env(A, "future").model_dump(mode="json") | {"schema_version": 99}
        bad_tenant = env(A, "bad").model_dump(mode="json") | {"tenant_id": "no spaces allowed"}
        await self.inject_raw(bus, subject, b"\x00\xffnot json")
        await self.inject_raw(bus, subject, b"[1, 2, 3]")
        await self.inject_raw(bus, subject, json.dumps(newer).encode())
        await self.inject_raw(bus, subject, json.dumps(bad_tenant).encode())
        await self.inject_raw(bus, subject, good_b)
        await bus.publish(subject, env(A, "sentinel"))
        await inbox.wait_for("sentinel")
        assert inbox.types == ["sentinel"]
        reasons = self.rejection_reasons(bus)
        if reasons is not None:
            assert reasons == [
                "not_json", "not_an_object", "unsupported_version", "invalid_tenant", "tenant_mismatch",
            ]

    async def test_dropped_messages_are_not_redelivered(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        sub = await bus.subscribe(self.pattern(A), inbox, durable="once")
        await self.inject_raw(bus, self.subject(A), b"garbage")
        await bus.publish(self.subject(A), env(A, "s1"))
        await inbox.wait_for("s1")
        await sub.stop()
        again = Inbox()
        await self.subscribe(bus, self.pattern(A), again, durable="once")
        await bus.publish(self.subject(A), env(A, "s2"))
        await again.wait_for("s2")
        assert again.types == ["s2"]

    # -- bad input -------------------------------------------------------------------------------

    async def test_publish_rejects_bad_subjects_and_foreign_envelopes_and_sends_nothing(self) -> None:
        bus = await self.bus()
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(), inbox)
        for subject in (f"{self.root}.{A}.*", f"{self.root}.{A}.>", f"{self.root}..x", "", f"{self.root}",
                        f"{self.root}.bad tenant.x", f"{self.root}.{A}.a b"):
            with pytest.raises(InvalidSubject):
                await bus.publish(subject, env(A, "bad"))
        with pytest.raises(InvalidSubject):
            await bus.publish(f"elsewhere.{A}.x", env(A, "outside-the-stream"))
        with pytest.raises(MalformedMessage) as caught:
            await bus.publish(self.subject(A), env(B, "wrong-tenant"))
        assert caught.value.reason == "tenant_mismatch"
        with pytest.raises(MalformedMessage):
            await bus.publish(self.subject(A), Envelope(tenant_id=A, type="x", payload={"o": object()}))
        await bus.publish(self.subject(A), env(A, "sentinel"))
        await inbox.wait_for("sentinel")
        assert inbox.types == ["sentinel"]

    async def test_subscribe_rejects_bad_options(self) -> None:
        bus = await self.bus()
        with pytest.raises(InvalidSubject):
            await bus.subscribe(f"{self.root}.>.x", Inbox())
        with pytest.raises(ValidationError):
            await bus.subscribe(self.pattern(A), Inbox(), durable="has.dot")
        with pytest.raises(ValidationError):
            await bus.subscribe(self.pattern(A), Inbox(), max_deliver=0)
        with pytest.raises(ValidationError):
            await bus.subscribe(self.pattern(A), Inbox(), concurrency=0)

    # -- errors ----------------------------------------------------------------------------------

    # -- purge (erasure) --------------------------------------------------------------------------

    async def test_purge_removes_the_retained_messages_on_a_subject_filter_only(self) -> None:
        bus = await self.bus()
        bob, alice = user_token("bob"), user_token("alice")
        if not bus.supports_purge:
            with pytest.raises(BusError):
                await bus.purge(f"{self.root}.{A}.{bob}.>")
            return
        await bus.publish(self.subject(A, bob, "triage", "task"), env(A, "bob-1"))
        await bus.publish(self.subject(A, bob, "billing", "task"), env(A, "bob-2"))
        await bus.publish(self.subject(A, alice, "triage", "task"), env(A, "alice"))
        await bus.publish(self.subject(B, bob, "triage", "task"), env(B, "other-tenant-bob"))
        assert await bus.purge(f"{self.root}.{A}.{bob}.>") == 2
        assert await bus.purge(f"{self.root}.{A}.{bob}.>") == 0  # idempotent
        assert await bus.purge(f"x{self.root}.{A}.{bob}.>") == 0  # outside what the bus retains
        await bus.publish(self.subject(A, alice, "triage", "task"), env(A, "sentinel"))
        inbox = Inbox()
        await self.subscribe(bus, self.pattern(), inbox, durable="after-erasure")
        await inbox.wait_for("sentinel")
        assert inbox.types == ["alice", "other-tenant-bob", "sentinel"]

    async def test_retained_reads_the_messages_on_a_subject_filter_in_order_and_bounded(self) -> None:
        bus = await self.bus()
        bob, alice = user_token("bob"), user_token("alice")
        if not bus.supports_purge:
            with pytest.raises(BusError):
                await bus.retained(f"{self.root}.{A}.{bob}.>")
            return
        await bus.publish(self.subject(A, bob, "triage", "task"), env(A, "bob-1", n=1))
        await bus.publish(self.subject(A, alice, "triage", "task"), env(A, "alice"))
        await bus.publish(self.subject(A, bob, "billing", "task"), env(A, "bob-2", n=2))
        await bus.publish(self.subject(B, bob, "triage", "task"), env(B, "other-tenant-bob"))
        read = await bus.retained(f"{self.root}.{A}.{bob}.>")
        assert [(m.subject, m.envelope.type, m.envelope.payload) for m in read] == [
            (self.subject(A, bob, "triage", "task"), "bob-1", {"n": 1}),
            (self.subject(A, bob, "billing", "task"), "bob-2", {"n": 2}),
        ]
        assert read[0].sequence < read[1].sequence
        assert [m.envelope.type for m in await bus.retained(f"{self.root}.{A}.{bob}.>", limit=1)] == ["bob-1"]
        assert await bus.retained(f"x{self.root}.{A}.{bob}.>") == []  # outside what the bus retains
        with pytest.raises(ValidationError):
            await bus.retained(f"{self.root}.{A}.{bob}.>", limit=0)
        inbox = Inbox()  # reading consumed nothing: a durable consumer still gets every message
        await self.subscribe(bus, self.pattern(A), inbox, durable="after-reading")
        await inbox.wait_for("bob-2")
        assert inbox.types == ["bob-1", "alice", "bob-2"]

    async def test_closed_bus_raises_bus_unavailable(self) -> None:
        bus = await self.make_bus((f"{self.root}.>",))
        await bus.aclose()
        with pytest.raises(BusUnavailable):
            await bus.publish(self.subject(A), env(A, "late"))

    async def test_health_probe_answers(self) -> None:
        bus = await self.bus()
        await assert_probe_answers(bus)


class BusServerContract(BusContract):
    """The Bus contract plus error translation, for adapters behind a server."""

    async def make_unreachable_bus(self) -> BusPort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_bus_unavailable_with_masked_address(self) -> None:
        try:
            bus = await self.make_unreachable_bus()
        except BusUnavailable as e:
            error = e
        else:
            self._made.append(bus)
            with pytest.raises(BusUnavailable) as caught:
                await bus.publish(self.subject(A), env(A, "x"))
            error = caught.value
        assert isinstance(error.address, str) and "***" in error.address
        assert SECRET not in str(error) and SECRET not in error.address
