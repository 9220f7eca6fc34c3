"""The BusPort contract on NatsBus against a real NATS JetStream server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
import pytest_asyncio

from motadata_ai.adapters.nats import NatsBus
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.ports.bus import BusPort
from motadata_ai.testing.contracts.bus import SECRET, BusServerContract, Inbox

pytestmark = pytest.mark.nats


class TestNatsBus(BusServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, nats_url: str) -> AsyncIterator[None]:
        self.url = nats_url
        self._streams: list[str] = []
        yield
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            for stream in self._streams:
                try:
                    await js.delete_stream(stream)
                except nats.js.errors.NotFoundError:
                    pass
        finally:
            await nc.close()

    async def make_bus(self, subjects: tuple[str, ...]) -> BusPort:
        stream = f"T_{subjects[0].split('.')[0]}_{len(self._streams)}"
        self._streams.append(stream)
        return await NatsBus.connect(self.url, stream=stream, subjects=subjects, poll_interval=0.2)

    async def make_unreachable_bus(self) -> BusPort | None:
        return await NatsBus.connect(f"nats://app:{SECRET}@127.0.0.1:1", connect_timeout=1.0)


class TestNatsClusterBus(BusServerContract):
    """The same contract on a 3-node NATS cluster, every stream replicated three times."""

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _server(self, nats_cluster_url: str) -> AsyncIterator[None]:
        self.url = nats_cluster_url
        self._streams: list[str] = []
        yield
        nc = await nats.connect(nats_cluster_url.split(","))
        try:
            js = nc.jetstream()
            for stream in self._streams:
                try:
                    await js.delete_stream(stream)
                except nats.js.errors.NotFoundError:
                    pass
        finally:
            await nc.close()

    async def make_bus(self, subjects: tuple[str, ...]) -> BusPort:
        stream = f"C_{subjects[0].split('.')[0]}_{len(self._streams)}"
        self._streams.append(stream)
        return await NatsBus.connect(
            self.url, stream=stream, subjects=subjects, poll_interval=0.2, replicas=3
        )

    async def make_unreachable_bus(self) -> BusPort | None:
        return await NatsBus.connect(
            f"nats://app:{SECRET}@127.0.0.1:1,nats://127.0.0.1:2", connect_timeout=1.0, replicas=3
        )

    async def test_streams_are_replicated_on_three_nodes(self) -> None:
        bus = await self.make_bus(("replicated.>",))
        try:
            assert isinstance(bus, NatsBus)
            info = await bus.client.jetstream().stream_info(self._streams[-1])
            assert info.config.num_replicas == 3
            assert info.cluster is not None and info.cluster.leader is not None
            assert len(info.cluster.replicas or []) == 2
        finally:
            await bus.aclose()


class TestNatsBusSpecifics:
    async def test_slow_handler_is_not_redelivered_while_it_runs(self, nats_url: str) -> None:
        bus = await NatsBus.connect(
            nats_url, stream="SLOW", subjects=("slow.>",), ack_wait=1.0, poll_interval=0.2
        )
        calls: list[str] = []
        done = asyncio.Event()

        async def slow(envelope: Envelope) -> None:
            calls.append(envelope.id)
            await asyncio.sleep(2.5)  # well past ack_wait: the adapter reports progress meanwhile
            done.set()

        try:
            await bus.subscribe("slow.acme.>", slow, durable="slow", concurrency=2)
            await bus.publish("slow.acme.task", Envelope(tenant_id="acme", type="long-job"))
            await asyncio.wait_for(done.wait(), 30)
            await asyncio.sleep(1.5)  # a redelivery, had there been one, would have started by now
            assert len(calls) == 1
        finally:
            await bus.client.jetstream().delete_stream("SLOW")
            await bus.aclose()

    async def test_envelope_id_is_the_jetstream_message_id(self, nats_url: str) -> None:
        bus = await NatsBus.connect(nats_url, stream="MSGID", subjects=("msgid.>",))
        try:
            sent = Envelope(tenant_id="acme", type="x")
            await bus.publish("msgid.acme.task", sent)
            await bus.publish("msgid.acme.task", sent)
            js = bus.client.jetstream()
            info = await js.stream_info("MSGID")
            assert info.state.messages == 1
            stored = await js.get_msg("MSGID", seq=1)
            assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == sent.id
        finally:
            await bus.client.jetstream().delete_stream("MSGID")
            await bus.aclose()


class TestNatsBusSetup:
    async def test_bad_replicas_and_retention_are_configuration_errors(self, nats_url: str) -> None:
        for options in ({"replicas": 0}, {"replicas": "3"}, {"replicas": True}, {"retention": "interest"}):
            with pytest.raises(ConfigurationError):
                await NatsBus.connect(nats_url, stream="BAD_OPTIONS", subjects=("badopt.>",), **options)

    async def test_overlapping_stream_subjects_are_a_configuration_error(self, nats_url: str) -> None:
        first = await NatsBus.connect(nats_url, stream="OVERLAP_ONE", subjects=("overlap.>",))
        try:
            with pytest.raises(ConfigurationError) as caught:
                await NatsBus.connect(nats_url, stream="OVERLAP_TWO", subjects=("overlap.>",))
            assert "OVERLAP_TWO" in str(caught.value)
        finally:
            await first.client.jetstream().delete_stream("OVERLAP_ONE")
            await first.aclose()

    async def test_reconnecting_to_an_existing_stream_keeps_its_messages(self, nats_url: str) -> None:
        from motadata_ai.domain.values.bus import Envelope
        one = await NatsBus.connect(nats_url, stream="KEEP", subjects=("keep.>",))
        await one.publish("keep.acme.task", Envelope(tenant_id="acme", type="kept"))
        await one.aclose()
        two = await NatsBus.connect(nats_url, stream="KEEP", subjects=("keep.>",), duplicate_window=30)
        try:
            inbox = Inbox()
            await two.subscribe("keep.acme.>", inbox, durable="reader")
            await inbox.wait_for("kept")
            assert inbox.types == ["kept"]
        finally:
            await two.client.jetstream().delete_stream("KEEP")
            await two.aclose()
