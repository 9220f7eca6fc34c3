"""The embedding coalescing step: concurrent embedding calls of a tenant and model share provider
batches; each caller gets its own vectors and its share of usage and cost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from motadata_ai.domain.gateway.steps.coalesce import split_usage

from .conftest import Rig

RigFactory = Callable[..., Rig]


async def test_concurrent_callers_share_one_provider_call_with_their_own_vectors(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(embedding_batch_window=0.01, enable_caching=False)
    texts = [[f"alpha {n}", f"beta {n} gamma"] for n in range(6)]
    results = await asyncio.gather(*(rig.gateway.embed(t, tenant_id="acme") for t in texts))
    assert len(rig.embeddings.calls) == 1
    assert len(rig.embeddings.calls[0].inputs) == 12
    for batch, result in zip(texts, results, strict=True):
        assert result.vectors == tuple(rig.embeddings.vector(t) for t in batch)
        assert result.usage.input_tokens == 5  # "alpha n" + "beta n gamma"
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme", limit=100)
    assert len(records) == 6 and sum(r.input_tokens for r in records) == 30


async def test_tenants_and_models_are_never_merged(make_rig: RigFactory) -> None:
    rig = make_rig(embedding_batch_window=0.01, enable_caching=False)
    await asyncio.gather(
        rig.gateway.embed(["one"], tenant_id="acme"),
        rig.gateway.embed(["two"], tenant_id="globex"),
        rig.gateway.embed(["three"], tenant_id="acme", model="other/model"),
        rig.gateway.embed(["four"], tenant_id="acme"),
    )
    assert sorted(len(c.inputs) for c in rig.embeddings.calls) == [1, 1, 2]


async def test_a_batch_never_exceeds_the_input_limit(make_rig: RigFactory) -> None:
    rig = make_rig(embedding_batch_window=0.01, embedding_batch_max_inputs=4, enable_caching=False)
    results = await asyncio.gather(
        *(rig.gateway.embed([f"a{n}", f"b{n}"], tenant_id="acme") for n in range(5))
    )
    assert [len(c.inputs) for c in rig.embeddings.calls] == [4, 4, 2]
    assert [len(r.vectors) for r in results] == [2] * 5


async def test_a_caller_alone_goes_through_unchanged(make_rig: RigFactory) -> None:
    rig = make_rig(enable_caching=False)
    result = await rig.gateway.embed(["just me"], tenant_id="acme")
    assert result.vectors == (rig.embeddings.vector("just me"),)
    assert [c.inputs for c in rig.embeddings.calls] == [("just me",)]


def test_usage_is_split_in_proportion_and_sums_to_the_total() -> None:
    assert split_usage(10, [1, 1, 2]) == [3, 2, 5]  # 2.5, 2.5, 5: the remainder to the largest fraction
    assert sum(split_usage(7, [3, 3, 3])) == 7
    assert split_usage(5, [0, 0]) == [0, 0]


async def test_a_failed_batch_fails_each_of_its_callers_with_the_error(make_rig: RigFactory) -> None:
    from motadata_ai.ports.llm import ProviderBadRequest

    rig = make_rig(embedding_batch_window=0.01, enable_caching=False, max_retries=0)

    async def refuse(request: object, *, timeout: float | None = None) -> object:
        raise ProviderBadRequest("refused", model="hash", status_code=400)

    rig.embeddings.embed = refuse  # type: ignore[method-assign]
    outcomes = await asyncio.gather(
        *(rig.gateway.embed([f"text {n}"], tenant_id="acme") for n in range(3)), return_exceptions=True
    )
    assert [type(o).__name__ for o in outcomes] == ["ProviderBadRequest"] * 3


async def test_a_longer_text_takes_the_larger_share_of_a_merged_batch(make_rig: RigFactory) -> None:
    rig = make_rig(embedding_batch_window=0.01, enable_caching=False)
    short, long = await asyncio.gather(
        rig.gateway.embed(["vpn"], tenant_id="acme"),
        rig.gateway.embed(["why does my vpn connection keep dropping every single day"], tenant_id="acme"),
    )
    assert len(rig.embeddings.calls) == 1
    assert short.usage.input_tokens + long.usage.input_tokens == 11
    assert (short.usage.input_tokens, long.usage.input_tokens) == (1, 10)
