"""The de-duplication step: identical concurrent calls share one provider call, its error and
its hand-over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.ports.llm import ProviderBadRequest

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_100_identical_concurrent_calls_make_one_provider_call(make_rig: RigFactory) -> None:
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> str:
        await gate.wait()
        return "shared"

    rig = make_rig(slow, burst_size=1000, requests_per_minute=6000)
    calls = [asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant_id="acme")) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*calls)
    assert len(rig.llm.calls) == 1
    assert {r.text for r in results} == {"shared"}
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme", limit=1000)
    assert len(records) == 100
    assert sum(1 for r in records if r.source == "provider") == 1
    assert sum(1 for r in records if r.source == "dedup") == 99


async def test_followers_share_the_leaders_error(make_rig: RigFactory) -> None:
    gate = asyncio.Event()

    async def broken(request: ChatRequest) -> str:
        await gate.wait()
        raise ProviderBadRequest("bad prompt", model=request.model, status_code=400)

    rig = make_rig(broken, burst_size=100, requests_per_minute=6000, max_retries=0)
    calls = [asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant_id="acme")) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert len(rig.llm.calls) == 1
    assert all(isinstance(o, ProviderBadRequest) for o in outcomes)


async def test_a_cancelled_leader_hands_over_to_a_follower(make_rig: RigFactory) -> None:
    gate = asyncio.Event()

    async def slow(request: ChatRequest) -> str:
        await gate.wait()
        return "answer"

    rig = make_rig(slow, burst_size=100, requests_per_minute=6000)
    leader = asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant_id="acme"))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(rig.gateway.generate(ask("same"), tenant_id="acme"))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert (await follower).text == "answer"
    assert leader.cancelled()
    assert len(rig.llm.calls) == 2  # the follower ran the call itself once the leader was gone


async def test_deduplication_never_crosses_tenants(make_rig: RigFactory) -> None:
    rig = make_rig(llm=FunctionLLM(lambda r: "x", delay=0.01))
    await asyncio.gather(*(rig.gateway.generate(ask("same"), tenant_id=t) for t in ("a", "b", "a", "b")))
    assert len(rig.llm.calls) == 2
