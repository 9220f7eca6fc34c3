"""The validation steps through the gateway: bad input refused before any provider call."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.values.errors import InvalidTenant, ValidationError
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.ports.llm import ContextWindowExceeded, UnknownModel

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


@pytest.mark.parametrize(
    ("request_factory", "field"),
    [
        (lambda: ChatRequest(model="test/model", messages=()), "messages"),
        (lambda: ask("x", temperature=-0.1), "temperature"),
        (lambda: ask("x", temperature=9.0), "temperature"),
        (lambda: ask("x", top_p=0.0), "top_p"),
        (lambda: ask("x", max_tokens=0), "max_tokens"),
        (lambda: ask("x", max_tokens=10**9), "max_tokens"),
        (lambda: ask("x", seed=-1), "seed"),
    ],
)
async def test_bad_input_is_refused_before_any_provider_call(
    make_rig: RigFactory, request_factory: Callable[[], ChatRequest], field: str
) -> None:
    rig = make_rig()
    with pytest.raises(ValidationError) as caught:
        await rig.gateway.generate(request_factory(), tenant_id="acme")
    assert caught.value.field == field
    assert rig.llm.calls == []


async def test_bad_call_options_tenant_and_level_are_refused(make_rig: RigFactory) -> None:
    rig = make_rig()
    with pytest.raises(InvalidTenant):
        await rig.gateway.generate(ask("x"), tenant_id="bad tenant!")
    for options in ({"ttl": -1}, {"max_retries": 99}, {"timeout": 0}, {"validation_level": "paranoid"}):
        with pytest.raises(ValidationError):
            await rig.gateway.generate(ask("x"), tenant_id="acme", **options)
    with pytest.raises(ValidationError):
        await rig.gateway.embed([], tenant_id="acme")
    with pytest.raises(ValidationError):
        await rig.gateway.embed("one string", tenant_id="acme")  # type: ignore[arg-type]
    for texts in (None, 5, 3.5, object()):  # not a sequence at all
        with pytest.raises(ValidationError):
            await rig.gateway.embed(texts, tenant_id="acme")  # type: ignore[arg-type]
    for tenant in (["acme"], {"acme": 1}, None, 7):  # unhashable ones included
        with pytest.raises(InvalidTenant):
            await rig.gateway.embed(["x"], tenant_id=tenant)  # type: ignore[arg-type]
    for user in (5, ["u-1"], b"u-1"):
        with pytest.raises(ValidationError):
            await rig.gateway.generate(ask("x"), tenant_id="acme", user_id=user)  # type: ignore[arg-type]
    assert rig.llm.calls == [] and rig.embeddings.calls == []


async def test_unknown_model_and_oversized_prompt_are_refused_before_the_provider(
    make_rig: RigFactory,
) -> None:
    class SmallWindow(FunctionLLM):
        def context_window(self, model: str) -> int | None:
            return 100

    rig = make_rig(llm=SmallWindow(lambda r: "x"), allowed_models=("test/model",))
    with pytest.raises(UnknownModel) as unknown:
        await rig.gateway.generate(ask("x", model="nope/model"), tenant_id="acme")
    assert unknown.value.available == ["test/model"]
    with pytest.raises(ContextWindowExceeded) as too_big:
        await rig.gateway.generate(ask("word " * 500), tenant_id="acme")
    assert too_big.value.context_window == 100 and too_big.value.prompt_tokens > 100
    with pytest.raises(ContextWindowExceeded):
        await rig.gateway.generate(ask("short", max_tokens=200), tenant_id="acme")
    assert rig.llm.calls == []
    await rig.gateway.generate(ask("short", max_tokens=20), tenant_id="acme")
