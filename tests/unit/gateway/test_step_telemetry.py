"""The telemetry step through the gateway: spans and metrics by the GenAI conventions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_telemetry_follows_the_genai_conventions(make_rig: RigFactory) -> None:
    rig = make_rig()
    await rig.gateway.generate(ask("hello"), tenant="acme")
    await rig.gateway.generate(ask("hello"), tenant="acme")
    await rig.gateway.embed(["x"], tenant="acme")
    miss, hit, embed = rig.telemetry.spans
    assert miss.name == "chat test/model" and embed.name == "embeddings local/all-minilm-l6-v2"
    assert miss.attributes["gen_ai.operation.name"] == "chat"
    assert miss.attributes["gen_ai.provider.name"] == "function"
    assert miss.attributes["gen_ai.request.model"] == "test/model"
    assert miss.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert (
        miss.attributes["gen_ai.usage.input_tokens"] > 0 and miss.attributes["gen_ai.usage.output_tokens"] > 0
    )
    assert miss.attributes["motadata.tenant.id"] == "acme"
    assert miss.attributes["motadata.cache.hit"] is False and hit.attributes["motadata.cache.hit"] is True
    names = {name for name, _, _ in rig.telemetry.histograms}
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= names
    token_types = {
        a["gen_ai.token.type"] for n, _, a in rig.telemetry.histograms if n == "gen_ai.client.token.usage"
    }
    assert token_types == {"input", "output"}
    assert rig.telemetry.counters["motadata.gateway.cache.hits"] == 1


async def test_model_calls_are_client_spans_with_the_request_parameters_and_the_user(
    make_rig: RigFactory,
) -> None:
    rig = make_rig()
    await rig.gateway.generate(
        ask("hello", max_tokens=64, temperature=0.2), tenant="acme", user_id="u-7"
    )
    await rig.gateway.generate(ask("plain"), tenant="acme")
    await rig.gateway.embed(["x"], tenant="acme")
    tuned, plain, embed = rig.telemetry.spans
    assert [span.kind for span in (tuned, plain, embed)] == ["client", "client", "client"]
    assert tuned.attributes["gen_ai.request.max_tokens"] == 64
    assert tuned.attributes["gen_ai.request.temperature"] == 0.2
    assert tuned.attributes["enduser.id"] == "u-7"
    assert "gen_ai.request.max_tokens" not in plain.attributes and "enduser.id" not in plain.attributes
