"""The cache step through the gateway: exact and semantic hits, keys, TTLs, streams replayed,
embeddings; errors never cached."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from motadata_ai.domain.gateway import (
    RetriesExhausted,
    TenantPolicy,
)

from .conftest import Rig, ask, failing

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_second_identical_call_is_a_cache_hit_with_no_provider_call(make_rig: RigFactory) -> None:
    rig = make_rig()
    first = await rig.gateway.generate(ask("hello"), tenant_id="acme")
    second = await rig.gateway.generate(ask("hello"), tenant_id="acme")
    assert len(rig.llm.calls) == 1
    assert not first.cached and second.cached
    assert second.text == first.text == "ok: hello"
    assert second.id == first.id
    assert rig.gateway.stats.cache_hit_rate == 0.5


async def test_cache_is_tenant_scoped_and_keyed_on_every_parameter(make_rig: RigFactory) -> None:
    rig = make_rig()
    await rig.gateway.generate(ask("hello"), tenant_id="acme")
    await rig.gateway.generate(ask("hello"), tenant_id="globex")
    await rig.gateway.generate(ask("hello", temperature=0.2), tenant_id="acme")
    await rig.gateway.generate(ask("hello", model="test/other"), tenant_id="acme")
    await rig.gateway.generate(ask("hello", extra={"b": 1, "a": 2}), tenant_id="acme")
    await rig.gateway.generate(
        ask("hello", extra={"a": 2, "b": 1}), tenant_id="acme"
    )  # same extra, other order
    assert len(rig.llm.calls) == 5


async def test_no_cache_ttl_and_tenant_override(make_rig: RigFactory) -> None:
    rig = make_rig(tenants={"nocache": TenantPolicy(enable_caching=False)})
    await rig.gateway.generate(ask("a"), tenant_id="acme", ttl=10)
    await rig.gateway.generate(ask("a"), tenant_id="acme", no_cache=True)
    assert len(rig.llm.calls) == 2
    rig.clock.advance(11)  # the entry expired
    await rig.gateway.generate(ask("a"), tenant_id="acme")
    assert len(rig.llm.calls) == 3
    await rig.gateway.generate(ask("a"), tenant_id="nocache")
    await rig.gateway.generate(ask("a"), tenant_id="nocache")
    assert len(rig.llm.calls) == 5


async def test_errors_are_never_cached(make_rig: RigFactory) -> None:
    rig = make_rig(failing(4), max_retries=0)
    with pytest.raises(RetriesExhausted):
        await rig.gateway.generate(ask("x"), tenant_id="acme")
    assert len(rig.cache) == 0


async def test_stream_is_cached_and_replayed_as_a_stream(make_rig: RigFactory) -> None:
    rig = make_rig(lambda r: "one two three")
    first = [c async for c in rig.gateway.stream(ask("s"), tenant_id="acme")]
    second = [c async for c in rig.gateway.stream(ask("s"), tenant_id="acme")]
    assert len(rig.llm.calls) == 1
    assert "".join(c.delta for c in first) == "".join(c.delta for c in second) == "one two three"
    assert [c.delta for c in second[:-1]] == ["one", " two", " three"]
    assert second[-1].finish_reason == "stop" and second[-1].usage is not None
    # A completed stream also answers a plain generate.
    response = await rig.gateway.generate(ask("s"), tenant_id="acme")
    assert response.cached and response.text == "one two three"


async def test_semantic_cache_answers_a_near_duplicate_of_the_same_tenant_only(make_rig: RigFactory) -> None:
    rig = make_rig(semantic_cache=True, semantic_cache_threshold=0.8)
    await rig.gateway.generate(ask("how do I reset my VPN password please"), tenant_id="acme")
    near = await rig.gateway.generate(ask("how do I reset my VPN password"), tenant_id="acme")
    assert near.cached and len(rig.llm.calls) == 1
    await rig.gateway.generate(ask("how do I reset my VPN password"), tenant_id="globex")
    assert len(rig.llm.calls) == 2
    await rig.gateway.generate(ask("printer on floor three is jammed"), tenant_id="acme")
    assert len(rig.llm.calls) == 3
    assert rig.gateway.stats.semantic_hits == 1
    assert 0 < rig.gateway.stats.semantic_hit_rate < 1


async def test_embed_is_cached_per_tenant_and_recorded(make_rig: RigFactory) -> None:
    rig = make_rig()
    first = await rig.gateway.embed(["alpha", "beta"], tenant_id="acme")
    second = await rig.gateway.embed(["alpha", "beta"], tenant_id="acme")
    await rig.gateway.embed(["alpha", "beta"], tenant_id="globex")
    assert len(rig.embeddings.calls) == 2
    assert second.cached and second.vectors == first.vectors and len(first.vectors) == 2
    assert first.model == "local/all-minilm-l6-v2"
    await rig.gateway.flush()
    records = await rig.ledger.usage_records(tenant="acme")
    assert {r.operation for r in records} == {"embeddings"} and len(records) == 2
