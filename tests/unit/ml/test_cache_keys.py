"""The gateway and the ML prediction cache share one cache without sharing a key.

Observed before the one key scheme: ``gateway.invalidate("ml")`` deleted tenant ``gw``'s ML
prediction-cache entries (their keys began ``gw:ml:``), and erasing a tenant with
``delete_prefix("<tenant>:")`` left its ``gw:<tenant>:`` gateway entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.limits import InMemoryLimits
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.ml import Dataset

RECORD = {"hours_open": 9.0, "category": "network", "summary": "production outage"}


def _gateway(cache: InMemoryCache) -> Gateway:
    return Gateway(
        llm=FunctionLLM(lambda request: "ok"),
        embeddings=HashEmbeddings(dimensions=16),
        config=GatewayConfig(default_model="test/model"),
        cache=cache,
        limits=InMemoryLimits(),
    )


def _ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


async def _trained(
    make_system: Callable[..., MLSystem], tenant: str, cache: InMemoryCache, data: Any
) -> MLSystem:
    ml = make_system(tenant, cache=cache)
    await ml.train(data, model_name="m")
    await ml.promote("m", 1)
    assert not (await ml.predict("m", RECORD)).cached
    assert (await ml.predict("m", RECORD)).cached
    return ml


async def test_invalidating_a_tenant_named_ml_keeps_tenant_gws_predictions(
    make_system: Callable[..., MLSystem], dataset: Dataset
) -> None:
    cache = InMemoryCache()
    gateway = _gateway(cache)
    gw = await _trained(make_system, "gw", cache, dataset)
    await gateway.generate(_ask("hello"), tenant_id="ml")
    assert (await gateway.generate(_ask("hello"), tenant_id="ml")).cached
    assert await gateway.invalidate("ml") == 1
    assert not (await gateway.generate(_ask("hello"), tenant_id="ml")).cached
    assert (await gw.predict("m", RECORD)).cached


async def test_invalidate_drops_the_tenants_gateway_answers_only(
    make_system: Callable[..., MLSystem], dataset: Dataset
) -> None:
    cache = InMemoryCache()
    gateway = _gateway(cache)
    acme = await _trained(make_system, "acme", cache, dataset)
    for tenant in ("acme", "acme.eu", "acme-2"):
        await gateway.generate(_ask("hello"), tenant_id=tenant)
    assert await gateway.invalidate("acme") == 1
    assert not (await gateway.generate(_ask("hello"), tenant_id="acme")).cached
    assert (await gateway.generate(_ask("hello"), tenant_id="acme.eu")).cached
    assert (await gateway.generate(_ask("hello"), tenant_id="acme-2")).cached
    assert (await acme.predict("m", RECORD)).cached


async def test_erasing_a_tenant_is_one_call_that_reaches_every_subsystem(
    make_system: Callable[..., MLSystem], dataset: Dataset
) -> None:
    cache = InMemoryCache()
    gateway = _gateway(cache)
    acme = await _trained(make_system, "acme", cache, dataset)
    other = await _trained(make_system, "acme.eu", cache, dataset)
    await gateway.generate(_ask("hello"), tenant_id="acme")
    await gateway.embed(["vpn"], tenant_id="acme")
    await gateway.generate(_ask("hello"), tenant_id="acme.eu")
    # one prediction, one answer, one embedding, and the record of recent requests (rank, body)
    assert await cache.delete_tenant("acme") == 5
    assert not (await acme.predict("m", RECORD)).cached
    assert not (await gateway.generate(_ask("hello"), tenant_id="acme")).cached
    assert (await other.predict("m", RECORD)).cached
    assert (await gateway.generate(_ask("hello"), tenant_id="acme.eu")).cached
