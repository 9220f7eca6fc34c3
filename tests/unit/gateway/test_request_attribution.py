"""Attribution of gateway calls: every record names its request, use-case and purpose; the calls
inside a request are its user's; the request's usage sums its records; model names are canonical."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.values.calls import RequestUsage
from motadata_ai.domain.values.usage import ModelPrice
from motadata_ai.ports.llm import qualified_model

from .conftest import Rig, ask

RigFactory = Callable[..., Rig]
PRICES = {"test/model": ModelPrice(input_per_token=0.001, output_per_token=0.002)}


async def test_a_direct_call_is_its_own_request_named_by_the_gateway_operation(make_rig: RigFactory) -> None:
    rig = make_rig()
    await rig.gateway.generate(ask("hi"), tenant_id="acme", user_id="bob")
    await rig.gateway.embed(["hi"], tenant_id="acme")
    await rig.gateway.flush()
    records = {r.operation: r for r in await rig.ledger.usage_records(tenant="acme")}
    generated, embedded = records["chat"], records["embeddings"]
    assert (generated.use_case, generated.purpose, generated.user_id) == (
        "gateway.generate",
        "request",
        "bob",
    )
    assert embedded.use_case == "gateway.embed"
    assert generated.request_id and embedded.request_id and generated.request_id != embedded.request_id
    assert generated.fingerprint is not None and len(generated.fingerprint) == 32


async def test_calls_inside_a_request_are_its_users_and_sum_to_its_usage(make_rig: RigFactory) -> None:
    rig = make_rig(model_prices=PRICES, enable_caching=False)
    async with rig.gateway.request("acme", operation="rag.query", user_id="bob") as origin:
        await rig.gateway.embed(["question"], tenant_id="acme", purpose="query_embedding")
        first = await rig.gateway.generate(ask("one"), tenant_id="acme", purpose="answer")
        second = await rig.gateway.generate(ask("two"), tenant_id="acme", purpose="answer")
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme", request_id=origin.request_id)
    assert len(records) == 3
    assert {r.user_id for r in records} == {"bob"}
    assert {r.use_case for r in records} == {"rag.query"}
    assert sorted(r.purpose or "" for r in records) == ["answer", "answer", "query_embedding"]
    assert origin.usage is not None and origin.usage.calls == 3
    assert origin.usage.cost_usd == pytest.approx(first.cost_usd + second.cost_usd)
    assert origin.usage.cost_usd == pytest.approx(sum(r.cost_usd for r in records))
    assert origin.usage.input_tokens == sum(r.input_tokens for r in records)


async def test_a_call_naming_its_own_user_keeps_it(make_rig: RigFactory) -> None:
    rig = make_rig()
    async with rig.gateway.request("acme", operation="agent.execute_task", user_id="bob"):
        await rig.gateway.generate(ask("hi"), tenant_id="acme", user_id="alice")
    await rig.gateway.flush()
    (record,) = await rig.ledger.usage_records(tenant="acme")
    assert record.user_id == "alice" and record.use_case == "agent.execute_task"


async def test_a_joined_request_reports_its_own_calls_and_the_outer_one_all(make_rig: RigFactory) -> None:
    rig = make_rig(model_prices=PRICES, enable_caching=False)
    async with rig.gateway.request("acme", operation="unified_query", user_id="bob") as outer:
        await rig.gateway.generate(ask("route"), tenant_id="acme", purpose="classification")
        async with rig.gateway.request("acme", operation="rag.query") as inner:
            await rig.gateway.generate(ask("answer"), tenant_id="acme", purpose="answer")
    await rig.gateway.flush()
    assert inner.request_id == outer.request_id and inner.user_id == "bob"
    assert outer.usage is not None and inner.usage is not None
    assert (outer.usage.calls, inner.usage.calls) == (2, 1)
    records = await rig.ledger.usage_records(tenant="acme", request_id=outer.request_id)
    assert outer.usage.cost_usd == pytest.approx(sum(r.cost_usd for r in records))
    assert {r.use_case for r in records} == {"unified_query"}


async def test_concurrent_requests_never_see_each_others_usage(make_rig: RigFactory) -> None:
    rig = make_rig(llm=FunctionLLM(lambda request: "x" * 40, delay=0.001), model_prices=PRICES,
                   enable_caching=False, request_deduplication=False)  # fmt: skip

    async def one(user: str, calls: int) -> tuple[str, RequestUsage | None]:
        async with rig.gateway.request("acme", operation="rag.query", user_id=user) as origin:
            await asyncio.gather(
                *(rig.gateway.generate(ask(f"{user} {i}"), tenant_id="acme") for i in range(calls))
            )
        return origin.request_id, origin.usage

    results = await asyncio.gather(one("bob", 3), one("alice", 5))
    await rig.gateway.flush()
    for (request_id, usage), user, calls in zip(results, ("bob", "alice"), (3, 5), strict=True):
        records = await rig.ledger.usage_records(tenant="acme", request_id=request_id)
        assert usage is not None and usage.calls == calls == len(records)
        assert {r.user_id for r in records} == {user}
        assert usage.cost_usd == pytest.approx(sum(r.cost_usd for r in records))


async def test_records_name_the_model_canonically(make_rig: RigFactory) -> None:
    class QualifyingLLM(FunctionLLM):
        def canonical_model(self, model: str) -> str:
            return qualified_model(model, "openai")

    rig = make_rig(llm=QualifyingLLM(lambda request: "ok"), enable_caching=False)
    await rig.gateway.generate(ask("a", model="gpt-4o-mini"), tenant_id="acme")
    await rig.gateway.generate(ask("b", model="openai/gpt-4o-mini"), tenant_id="acme")
    await rig.gateway.flush()
    (by_model,) = await rig.ledger.usage_by_model(tenant="acme")
    assert (by_model.model, by_model.calls) == ("openai/gpt-4o-mini", 2)


def test_qualified_model_keeps_a_prefix_and_an_unknown_provider() -> None:
    assert qualified_model("gpt-4o-mini", "openai") == "openai/gpt-4o-mini"
    assert qualified_model("openai/gpt-4o-mini", "azure") == "openai/gpt-4o-mini"
    assert qualified_model("mystery", "unknown") == "mystery"
    assert qualified_model("mystery", "") == "mystery"


def test_request_usage_counts_in_every_enclosing_request() -> None:
    outer = RequestUsage()
    inner = outer.child()

    class Record:
        input_tokens, output_tokens, cost_usd, saved_usd = 10, 5, 0.5, 0.25

    inner.add(Record())
    outer.add(Record())
    assert (inner.calls, inner.cost_usd) == (1, 0.5)
    assert (outer.calls, outer.input_tokens, outer.output_tokens, outer.cost_usd, outer.saved_usd) == (
        2,
        20,
        10,
        1.0,
        0.5,
    )
    assert inner.totals() == {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.5}
