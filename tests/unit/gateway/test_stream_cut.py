"""A stream cut by its caller: the provider's stream is closed and the call is charged for what it
delivered (the caller closing the generator, or the caller's task cancelled as a server does when
its client goes away)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.values.llm import ChatRequest, StreamChunk
from motadata_ai.domain.values.usage import ModelPrice, UsageRecord

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]
PRICE = ModelPrice(input_per_token=0.001, output_per_token=0.002)


class LongStreamLLM(FunctionLLM):
    """Streams 200 words; after ``pause_after`` chunks it waits on ``gate`` before each next one.
    Notes how far it got and whether its stream was closed."""

    def __init__(self, pause_after: int | None = None) -> None:
        super().__init__(lambda request: "unused")
        self.pause_after = pause_after
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()
        self.sent = 0
        self.closed = False

    async def stream(
        self, request: ChatRequest, *, timeout: float | None = None
    ) -> AsyncIterator[StreamChunk]:
        try:
            for index in range(200):
                if self.pause_after is not None and index >= self.pause_after:
                    self.waiting.set()
                    await self.gate.wait()
                self.sent += 1
                yield StreamChunk(delta=f"word{index}" if index == 0 else f" word{index}")
            yield StreamChunk(finish_reason="stop")
        finally:
            self.closed = True


async def take(stream: AsyncIterator[StreamChunk], count: int) -> list[str]:
    """The text of the first ``count`` chunks of ``stream`` (left open)."""
    return [(await anext(stream)).delta for _ in range(count)]


async def records_of(rig: Rig, tenant: str, count: int = 1) -> list[UsageRecord]:
    """The tenant's usage records once the gateway wrote ``count`` (the event loop finalises the
    inner steps of a closed stream within a few turns)."""
    records: list[UsageRecord] = []
    for _ in range(200):
        await rig.gateway.flush()
        records = await rig.ledger.usage_records(tenant=tenant)
        if len(records) >= count:
            break
        await asyncio.sleep(0)
    return records


async def test_a_stream_closed_by_the_caller_is_charged_for_the_chunks_it_delivered(
    make_rig: RigFactory,
) -> None:
    llm = LongStreamLLM()
    rig = make_rig(llm=llm, model_prices={"test/model": PRICE})
    stream = rig.gateway.stream(ask("tell me everything"), tenant_id="acme", user_id="u1")
    delivered = await take(stream, 3)
    await stream.aclose()
    records = await records_of(rig, "acme")
    text = "".join(delivered)
    assert llm.closed and llm.sent == 3  # the provider's stream was closed, nothing produced after
    assert len(records) == 1
    record = records[0]
    assert record.output_tokens == llm.count_tokens("test/model", text) > 0
    assert record.input_tokens > 0
    assert record.cost_usd == pytest.approx(PRICE.cost(record.input_tokens, record.output_tokens))
    assert record.source == "provider" and record.attempts == 1 and record.user_id == "u1"
    assert record.outcome == "error" and record.error == "GeneratorExit: the stream was cut by its caller"


async def test_a_stream_whose_task_is_cancelled_is_charged_for_the_chunks_it_delivered(
    make_rig: RigFactory,
) -> None:
    llm = LongStreamLLM(pause_after=5)
    rig = make_rig(llm=llm, model_prices={"test/model": PRICE})
    delivered: list[str] = []

    async def consume() -> None:
        async for chunk in rig.gateway.stream(ask("tell me everything"), tenant_id="acme"):
            delivered.append(chunk.delta)

    task = asyncio.create_task(consume())
    await llm.waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    records = await records_of(rig, "acme")
    assert llm.closed and len(delivered) == 5
    (record,) = records
    assert record.output_tokens == llm.count_tokens("test/model", "".join(delivered)) > 0
    assert record.cost_usd == pytest.approx(PRICE.cost(record.input_tokens, record.output_tokens))
    assert record.cost_usd > 0 and record.source == "provider" and record.attempts == 1
    assert record.error == "CancelledError: the stream was cut by its caller"


async def test_a_replayed_cached_stream_cut_by_its_caller_costs_nothing(make_rig: RigFactory) -> None:
    llm = LongStreamLLM()
    rig = make_rig(llm=llm, model_prices={"test/model": PRICE})
    whole = [chunk.delta async for chunk in rig.gateway.stream(ask("again"), tenant_id="acme")]
    stream = rig.gateway.stream(ask("again"), tenant_id="acme")
    replayed = await take(stream, 2)
    await stream.aclose()
    records = await records_of(rig, "acme", count=2)
    assert len(whole) == 201 and replayed == whole[:2] and llm.sent == 200  # 200 words, the end
    cut = [r for r in records if r.outcome == "error"]
    assert len(records) == 2 and len(cut) == 1
    assert cut[0].cost_usd == 0 and cut[0].output_tokens == 0 and cut[0].source == "none"
