"""A model's circuit is shared by every tenant: one tenant's own short timeouts, 4xx and
cancellations never open it for the others; provider-side failures still do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import CircuitOpen, RetriesExhausted
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, StreamChunk, Usage
from motadata_ai.ports.llm import (
    ContextWindowExceeded,
    LLMPort,
    ProviderBadRequest,
    ProviderTimeout,
    ProviderUnavailable,
)

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]

ANSWER_S = 0.3  # the provider answers in this long, well within its own deadline


class SlowLLM(LLMPort):
    """Answers after ``ANSWER_S`` seconds of real time and honours the per-call timeout,
    as the LiteLLM adapter does (its deadline raises :class:`ProviderTimeout`)."""

    def __init__(self) -> None:
        self.calls: list[ChatRequest] = []
        self.fail_with: Exception | None = None
        self.started = asyncio.Event()

    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        self.calls.append(request)
        self.started.set()
        if self.fail_with is not None:
            raise self.fail_with
        try:
            async with asyncio.timeout(timeout):
                await asyncio.sleep(ANSWER_S)
        except TimeoutError:
            raise ProviderTimeout(f"no answer in {timeout}s", model=request.model) from None
        return ChatResponse(
            id=f"slow-{len(self.calls)}",
            model=request.model,
            provider="slow",
            message=Message(role="assistant", content="answer"),
            finish_reason="stop",
            usage=Usage(input_tokens=1, output_tokens=1),
        )

    async def stream(
        self, request: ChatRequest, *, timeout: float | None = None
    ) -> AsyncIterator[StreamChunk]:
        response = await self.complete(request, timeout=timeout)
        yield StreamChunk(delta=response.text, finish_reason="stop", usage=response.usage)


def rig_over(make_rig: RigFactory, llm: SlowLLM) -> Rig:
    return make_rig(
        llm=llm,
        max_retries=0,
        circuit_failure_threshold=3,
        circuit_recovery_timeout=60,
        request_timeout=5.0,
        enable_caching=False,
        request_deduplication=False,
    )


async def test_one_tenants_tight_timeouts_do_not_open_the_circuit_for_another(make_rig: RigFactory) -> None:
    llm = SlowLLM()
    rig = rig_over(make_rig, llm)
    for n in range(5):
        with pytest.raises(RetriesExhausted) as caught:
            await rig.gateway.generate(ask(f"a{n}"), tenant_id="tenant-a", timeout=0.02)
        assert [a["error"] for a in caught.value.attempts] == ["ProviderTimeout"]
    assert (await rig.gateway.health()).breakers == {}
    answers = [await rig.gateway.generate(ask(f"b{n}"), tenant_id="tenant-b") for n in range(5)]
    assert [a.text for a in answers] == ["answer"] * 5


async def test_tight_timeouts_on_a_stream_do_not_count_either(make_rig: RigFactory) -> None:
    llm = SlowLLM()
    rig = rig_over(make_rig, llm)
    for n in range(4):
        with pytest.raises(RetriesExhausted):
            async for _ in rig.gateway.stream(ask(f"a{n}"), tenant_id="tenant-a", timeout=0.02):
                pass
    assert (await rig.gateway.health()).breakers == {}
    chunks = [c async for c in rig.gateway.stream(ask("b"), tenant_id="tenant-b")]
    assert "".join(c.delta or "" for c in chunks) == "answer"


async def test_timeouts_at_the_providers_own_deadline_still_open_it(make_rig: RigFactory) -> None:
    llm = SlowLLM()
    rig = make_rig(
        llm=llm, max_retries=0, circuit_failure_threshold=3, circuit_recovery_timeout=60, request_timeout=0.02
    )
    for n in range(3):
        with pytest.raises(RetriesExhausted):
            await rig.gateway.generate(ask(f"a{n}"), tenant_id="tenant-a")
    assert (await rig.gateway.health()).breakers == {"cb:test/model": "open"}
    with pytest.raises(CircuitOpen):
        await rig.gateway.generate(ask("b"), tenant_id="tenant-b")


@pytest.mark.parametrize(
    "error", [ProviderUnavailable("upstream 503", status_code=503), ProviderUnavailable("connection refused")]
)
async def test_5xx_and_connection_errors_still_open_it(make_rig: RigFactory, error: Exception) -> None:
    llm = SlowLLM()
    llm.fail_with = error
    rig = rig_over(make_rig, llm)
    for n in range(3):
        with pytest.raises(RetriesExhausted):
            await rig.gateway.generate(ask(f"a{n}"), tenant_id="tenant-a")
    llm.fail_with = None
    with pytest.raises(CircuitOpen):
        await rig.gateway.generate(ask("b"), tenant_id="tenant-b")


async def test_a_tenants_bad_requests_do_not_count(make_rig: RigFactory) -> None:
    llm = SlowLLM()
    llm.fail_with = ProviderBadRequest("400 bad parameter", status_code=400)
    rig = rig_over(make_rig, llm)
    for n in range(5):
        with pytest.raises(ProviderBadRequest):
            await rig.gateway.generate(ask(f"a{n}"), tenant_id="tenant-a")
    llm.fail_with = None
    assert (await rig.gateway.health()).breakers == {}
    assert (await rig.gateway.generate(ask("b"), tenant_id="tenant-b")).text == "answer"


async def test_cancelled_calls_do_not_count(make_rig: RigFactory) -> None:
    llm = SlowLLM()
    rig = rig_over(make_rig, llm)
    for n in range(5):
        llm.started.clear()
        task = asyncio.create_task(rig.gateway.generate(ask(f"a{n}"), tenant_id="tenant-a"))
        await llm.started.wait()  # the provider call is in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (await rig.gateway.health()).breakers == {}
    assert (await rig.gateway.generate(ask("b"), tenant_id="tenant-b")).text == "answer"


async def test_a_prompt_refused_before_any_provider_call_is_recorded_as_invalid(
    make_rig: RigFactory,
) -> None:
    class SmallWindow(FunctionLLM):
        def context_window(self, model: str) -> int | None:
            return 100

    rig = make_rig(llm=SmallWindow(lambda r: "x"))
    with pytest.raises(ContextWindowExceeded):
        await rig.gateway.generate(ask("word " * 500), tenant_id="tenant-a")
    await rig.gateway.flush()
    (record,) = await rig.ledger.usage_records(tenant="tenant-a")
    assert record.outcome == "invalid" and record.attempts == 0
    assert rig.llm.calls == [] and (await rig.gateway.health()).breakers == {}
