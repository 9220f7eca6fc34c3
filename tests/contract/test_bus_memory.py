"""The BusPort contract on InMemoryBus, plus its in-process specifics."""

from __future__ import annotations

import asyncio

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.domain.bus.codec import Rejection
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.ports.bus import BusPort
from motadata_ai.testing.contracts.bus import BusContract, Inbox, eventually


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestInMemoryBus(BusContract):
    async def make_bus(self, subjects: tuple[str, ...]) -> BusPort:
        return InMemoryBus(subjects=subjects)


class TestInMemoryBusSpecifics:
    async def test_duplicate_window_expires_on_the_clock(self) -> None:
        clock = FakeClock()
        bus = InMemoryBus(subjects=("t.>",), duplicate_window=60, clock=clock, handled_memory=0)
        inbox = Inbox()
        await bus.subscribe("t.acme.>", inbox, durable="w")
        sent = Envelope(tenant_id="acme", type="x")
        await bus.publish("t.acme.task", sent)
        clock.now += 30
        await bus.publish("t.acme.task", sent)
        clock.now += 61
        await bus.publish("t.acme.task", sent)
        await eventually(lambda: len(inbox.received) == 2)
        await bus.aclose()
        assert inbox.types == ["x", "x"]

    async def test_stream_is_bounded_oldest_first(self) -> None:
        bus = InMemoryBus(subjects=("t.>",), max_messages=3)
        for i in range(5):
            await bus.publish("t.acme.task", Envelope(tenant_id="acme", type=f"m{i}"))
        inbox = Inbox()
        await bus.subscribe("t.acme.>", inbox, durable="late")
        await inbox.wait_for("m4")
        await bus.aclose()
        assert inbox.types == ["m2", "m3", "m4"]

    async def test_on_rejected_receives_each_rejection(self) -> None:
        seen: list[Rejection] = []
        bus = InMemoryBus(subjects=("t.>",), on_rejected=seen.append)
        inbox = Inbox()
        await bus.subscribe("t.acme.>", inbox)
        await bus.inject_raw("t.acme.task", Envelope(tenant_id="globex", type="x").model_dump_json().encode())
        await bus.publish("t.acme.task", Envelope(tenant_id="acme", type="ok"))
        await inbox.wait_for("ok")
        await bus.aclose()
        assert [(r.reason, r.tenant_id, r.subject) for r in seen] == [
            ("tenant_mismatch", "globex", "t.acme.task")
        ]

    async def test_stop_cancels_a_hung_handler_after_the_drain_timeout_and_keeps_the_message(self) -> None:
        bus = InMemoryBus(subjects=("t.>",), drain_timeout=0.05)
        calls: list[str] = []

        async def hang(envelope: Envelope) -> None:
            calls.append(envelope.type)
            if len(calls) == 1:
                await asyncio.Event().wait()

        sub = await bus.subscribe("t.acme.>", hang, durable="w")
        await bus.publish("t.acme.task", Envelope(tenant_id="acme", type="stuck"))
        await eventually(lambda: calls == ["stuck"])
        await sub.stop()
        await bus.subscribe("t.acme.>", hang, durable="w")
        await eventually(lambda: calls == ["stuck", "stuck"])
        await bus.aclose()
