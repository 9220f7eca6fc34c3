"""The telemetry step through the gateway: spans and metrics by the GenAI conventions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway.errors import RetriesExhausted
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.ports.llm import ProviderUnavailable, ServerAddress

from .conftest import Rig, ask

pytestmark = pytest.mark.asyncio
RigFactory = Callable[..., Rig]


async def test_telemetry_follows_the_genai_conventions(make_rig: RigFactory) -> None:
    rig = make_rig()
    await rig.gateway.generate(ask("hello"), tenant_id="acme")
    await rig.gateway.generate(ask("hello"), tenant_id="acme")
    await rig.gateway.embed(["x"], tenant_id="acme")
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
        ask("hello", max_tokens=64, temperature=0.2), tenant_id="acme", user_id="u-7"
    )
    await rig.gateway.generate(ask("plain"), tenant_id="acme")
    await rig.gateway.embed(["x"], tenant_id="acme")
    tuned, plain, embed = rig.telemetry.spans
    assert [span.kind for span in (tuned, plain, embed)] == ["client", "client", "client"]
    assert tuned.attributes["gen_ai.request.max_tokens"] == 64
    assert tuned.attributes["gen_ai.request.temperature"] == 0.2
    assert tuned.attributes["enduser.id"] == "u-7"
    assert "gen_ai.request.max_tokens" not in plain.attributes and "enduser.id" not in plain.attributes


class _ServedLLM(FunctionLLM):
    """A scripted model that says which server answers it, as a remote adapter does."""

    def server_address(self, model: str) -> ServerAddress | None:
        return ServerAddress("llm.internal", 8443) if model == "test/model" else None


async def test_a_provider_call_names_the_server_its_port_advertises(make_rig: RigFactory) -> None:
    rig = make_rig(llm=_ServedLLM(lambda request: "ok"))
    await rig.gateway.generate(ask("hello"), tenant_id="acme")
    await rig.gateway.generate(ask("hello"), tenant_id="acme")  # a cache hit reaches no server
    await rig.gateway.generate(ask("elsewhere", model="in/process"), tenant_id="acme")
    await rig.gateway.embed(["x"], tenant_id="acme")  # HashEmbeddings: in process
    served, cached, local, embedded = rig.telemetry.spans
    assert (served.attributes["server.address"], served.attributes["server.port"]) == ("llm.internal", 8443)
    for span in (cached, local, embedded):
        assert "server.address" not in span.attributes and "server.port" not in span.attributes


async def test_a_failed_call_still_names_its_server(make_rig: RigFactory) -> None:
    def down(request: ChatRequest) -> str:
        raise ProviderUnavailable("upstream 503", model=request.model, status_code=503)

    rig = make_rig(llm=_ServedLLM(down), max_retries=0)
    with pytest.raises(RetriesExhausted):
        await rig.gateway.generate(ask("hello"), tenant_id="acme")
    (span,) = rig.telemetry.spans
    assert span.attributes["server.address"] == "llm.internal" and span.attributes["error.type"]


async def test_the_calls_of_a_conversation_carry_its_id(make_rig: RigFactory) -> None:
    rig = make_rig()
    async with rig.gateway.request("acme", operation="rag.query", conversation_id="conv-9"):
        await rig.gateway.embed(["question"], tenant_id="acme")
        await rig.gateway.generate(ask("answer"), tenant_id="acme")
    await rig.gateway.generate(ask("alone"), tenant_id="acme")
    embedded, answered, alone = rig.telemetry.spans
    assert embedded.attributes["gen_ai.conversation.id"] == "conv-9"
    assert answered.attributes["gen_ai.conversation.id"] == "conv-9"
    assert "gen_ai.conversation.id" not in alone.attributes
