"""Cross-instance de-duplication (SharedFlight) over the in-memory lease store: one provider call
per key across instances, take-over when the holder dies, fail open when the store fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from motadata_ai.adapters.memory.leases import InMemoryLeases
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.gateway.shared_flight import Handover, SharedFlight
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.ports.leases import LeasePort, LeaseUnavailable

from .conftest import ask

KEY = keys.tenant_key("acme", keys.GATEWAY, "chat", "abc")
TEXT: Handover[str] = Handover(encode=lambda s: s.encode(), decode=lambda b: b.decode())
PRIVATE: Handover[str] = Handover(encode=lambda s: None, decode=lambda b: b.decode())


class Producer:
    """Counts its calls; each waits for ``gate`` and answers ``answer``."""

    def __init__(self, answer: str = "answer") -> None:
        self.gate = asyncio.Event()
        self.calls = 0
        self.answer = answer

    async def __call__(self) -> str:
        self.calls += 1
        await self.gate.wait()
        return self.answer


def flight(leases: LeasePort, **options: Any) -> SharedFlight:
    return SharedFlight(leases, ttl=options.pop("ttl", 0.3), poll_interval=0.01, **options)


async def test_instances_sharing_a_store_make_one_call_and_the_others_join() -> None:
    leases = InMemoryLeases()
    one, two = flight(leases), flight(leases)
    produce = Producer()
    first = asyncio.ensure_future(one.run(KEY, produce, TEXT))
    await asyncio.sleep(0.02)
    second = asyncio.ensure_future(two.run(KEY, produce, TEXT))
    await asyncio.sleep(0.05)
    produce.gate.set()
    assert await first == ("answer", False)
    assert await second == ("answer", True)
    assert produce.calls == 1
    assert (one.counters.led, two.counters.joined) == (1, 1)


async def test_a_holder_that_died_is_replaced_once_its_lease_expires() -> None:
    leases = InMemoryLeases()
    assert await leases.acquire(KEY, owner="dead-instance", ttl=0.2)  # never extended, never released
    survivor = flight(leases)
    produce = Producer()
    produce.gate.set()
    assert await survivor.run(KEY, produce, TEXT) == ("answer", False)
    assert produce.calls == 1
    assert survivor.counters.took_over == 1


async def test_the_holder_keeps_its_lease_alive_while_the_call_lasts() -> None:
    leases = InMemoryLeases()
    one, two = flight(leases, ttl=0.15), flight(leases, ttl=0.15)
    produce = Producer()
    first = asyncio.ensure_future(one.run(KEY, produce, TEXT))
    await asyncio.sleep(0.02)
    second = asyncio.ensure_future(two.run(KEY, produce, TEXT))
    await asyncio.sleep(0.5)  # three lease lifetimes
    produce.gate.set()
    assert (await first, await second) == (("answer", False), ("answer", True))
    assert produce.calls == 1


async def test_a_failed_holder_hands_over_to_a_waiting_instance() -> None:
    leases = InMemoryLeases()
    one, two = flight(leases), flight(leases)
    gate = asyncio.Event()

    async def broken() -> str:
        await gate.wait()
        raise LeaseUnavailable("not the store: the provider", address="x")

    first = asyncio.ensure_future(one.run(KEY, broken, TEXT))
    await asyncio.sleep(0.02)
    produce = Producer("second try")
    produce.gate.set()
    second = asyncio.ensure_future(two.run(KEY, produce, TEXT))
    await asyncio.sleep(0.03)
    gate.set()
    with pytest.raises(LeaseUnavailable):
        await first
    assert await second == ("second try", False)
    assert two.counters.took_over == 1


async def test_an_answer_that_must_not_be_shared_is_produced_by_each_instance() -> None:
    leases = InMemoryLeases()
    one, two = flight(leases), flight(leases)
    produce = Producer()
    first = asyncio.ensure_future(one.run(KEY, produce, PRIVATE))
    await asyncio.sleep(0.02)
    second = asyncio.ensure_future(two.run(KEY, produce, PRIVATE))
    await asyncio.sleep(0.03)
    produce.gate.set()
    assert (await first, await second) == (("answer", False), ("answer", False))
    assert produce.calls == 2
    assert await leases.result(KEY) == b""


class DownLeases(InMemoryLeases):
    """A lease store that cannot be reached."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    async def acquire(self, key: str, *, owner: str, ttl: float) -> bool:
        self.tries += 1
        raise LeaseUnavailable("lease server is down", address="redis://***@x")


async def test_a_store_that_is_down_fails_open_and_is_left_alone_for_a_while() -> None:
    leases = DownLeases()
    shared = flight(leases)
    produce = Producer()
    produce.gate.set()
    for _ in range(5):
        assert await shared.run(KEY, produce, TEXT) == ("answer", False)
    assert produce.calls == 5
    assert shared.counters.failed_open == 5
    assert leases.tries == 1  # its circuit opened at the first failure


async def test_two_gateways_with_separate_state_sharing_leases_make_one_provider_call() -> None:
    leases = InMemoryLeases()
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> str:
        await gate.wait()
        return "shared"

    llm = FunctionLLM(slow)
    config = GatewayConfig(default_model="test/model", requests_per_minute=None, dedup_poll_interval=0.005)
    gateways = [Gateway(llm=llm, embeddings=None, config=config, leases=leases) for _ in range(2)]  # type: ignore[arg-type]
    calls = [
        asyncio.ensure_future(gateways[i % 2].generate(ask("same"), tenant_id="acme")) for i in range(200)
    ]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*calls)
    assert len(llm.calls) == 1
    assert {r.text for r in results} == {"shared"}
    assert sum(g.stats.dedup_hits for g in gateways) == 199


async def test_identical_embedding_calls_are_shared_across_gateways_too() -> None:
    from motadata_ai.adapters.memory.embedding import HashEmbeddings

    class SlowEmbeddings(HashEmbeddings):
        async def embed(self, request: Any, *, timeout: float | None = None) -> Any:
            await asyncio.sleep(0.1)
            return await super().embed(request, timeout=timeout)

    leases, embeddings = InMemoryLeases(), SlowEmbeddings(dimensions=16)
    config = GatewayConfig(
        default_model="test/model", default_embedding_model="hash", dedup_poll_interval=0.005
    )
    gateways = [
        Gateway(llm=FunctionLLM(lambda r: ""), embeddings=embeddings, config=config, leases=leases)
        for _ in range(2)
    ]
    results = await asyncio.gather(
        *(gateways[i % 2].embed(["vpn drops"], tenant_id="acme") for i in range(10))
    )
    assert len(embeddings.calls) == 1
    assert {r.vectors for r in results} == {(embeddings.vector("vpn drops"),)}
