"""generate_batch: many requests with bounded concurrency, each a whole call, results in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from motadata_ai.domain.gateway import RateLimited
from motadata_ai.domain.gateway.batch import run_batch
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.ports.llm import ProviderBadRequest

from .conftest import Rig, ask

RigFactory = Callable[..., Rig]


async def test_results_come_back_in_order_and_each_request_is_charged_and_cached(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(burst_size=100, requests_per_minute=6000)
    prompts = [f"question {n}" for n in range(20)]
    results = await rig.gateway.generate_batch([ask(p) for p in prompts], tenant_id="acme", concurrency=4)
    assert [r.text for r in results] == [f"ok: {p}" for p in prompts]  # type: ignore[union-attr]
    again = await rig.gateway.generate_batch([ask(p) for p in prompts[:5]], tenant_id="acme")
    assert all(r.cached for r in again)  # type: ignore[union-attr]
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme", limit=100)
    assert len(records) == 25
    assert sum(1 for r in records if r.source == "provider") == 20
    assert len(rig.llm.calls) == 20


async def test_concurrency_bounds_the_calls_in_flight(make_rig: RigFactory) -> None:
    state = {"now": 0, "most": 0}

    async def slow(request: ChatRequest) -> str:
        state["now"] += 1
        state["most"] = max(state["most"], state["now"])
        await asyncio.sleep(0.005)
        state["now"] -= 1
        return "done"

    rig = make_rig(slow, burst_size=100, requests_per_minute=6000)
    await rig.gateway.generate_batch([ask(f"q{n}") for n in range(30)], tenant_id="acme", concurrency=3)
    assert state["most"] == 3


async def test_errors_as_results_leave_the_other_requests_answered(make_rig: RigFactory) -> None:
    def respond(request: ChatRequest) -> str:
        if request.messages[-1].content == "bad":
            raise ProviderBadRequest("refused", model=request.model, status_code=400)
        return "fine"

    rig = make_rig(respond, burst_size=100, requests_per_minute=6000, max_retries=0)
    results = await rig.gateway.generate_batch(
        [ask("a"), ask("bad"), ask("c")], tenant_id="acme", return_exceptions=True
    )
    assert [type(r).__name__ for r in results] == ["ChatResponse", "ProviderBadRequest", "ChatResponse"]


async def test_without_return_exceptions_the_first_error_is_raised(make_rig: RigFactory) -> None:
    rig = make_rig(burst_size=2, requests_per_minute=1)
    with pytest.raises(RateLimited):
        await rig.gateway.generate_batch([ask(f"q{n}") for n in range(5)], tenant_id="acme", concurrency=1)


async def test_a_bad_concurrency_is_a_validation_error(make_rig: RigFactory) -> None:
    rig = make_rig()
    for bad in (0, 1025, 2.5, True):
        with pytest.raises(ValidationError):
            await rig.gateway.generate_batch([ask("q")], tenant_id="acme", concurrency=bad)  # type: ignore[arg-type]


async def test_an_empty_batch_is_an_empty_list() -> None:
    async def never(item: int) -> int:
        raise AssertionError("nothing to run")

    assert await run_batch([], never, concurrency=4) == []


@pytest.mark.parametrize("requests", [None, 5, {"a": 1}, "prompt"])
async def test_a_batch_that_is_not_a_list_of_requests_is_refused(
    make_rig: RigFactory, requests: object
) -> None:
    rig = make_rig()
    with pytest.raises(ValidationError):
        await rig.gateway.generate_batch(requests, tenant_id="acme")  # type: ignore[arg-type]
    assert rig.llm.calls == []
