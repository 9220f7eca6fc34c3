"""Model-prefix routing of the LLM and embedding ports: routed prefixes go to their adapter, every
other model to the default, and an adapter is built only when a model of its route is used."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.routing import ModelRoutedChat, ModelRoutedEmbeddings
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.llm import ChatRequest, EmbeddingRequest, Message
from motadata_ai.ports.llm import ServerAddress


def _request(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message(role="user", content="hi"),))


def _reply(name: str) -> FunctionLLM:
    return FunctionLLM(lambda request: f"{name}:{request.model}")


async def test_routed_prefix_goes_to_its_adapter_and_the_rest_to_the_default() -> None:
    built: list[str] = []

    def make(name: str) -> FunctionLLM:
        built.append(name)
        return _reply(name)

    port = ModelRoutedChat({"local": lambda: make("local")}, default=lambda: make("default"))
    assert (await port.complete(_request("local/extractive"))).text == "local:local/extractive"
    assert built == ["local"]  # the default (LiteLLM in the container) is not built for local models
    assert (await port.complete(_request("openai/gpt-4o"))).text == "default:openai/gpt-4o"
    assert (await port.complete(_request("gpt-4o"))).text == "default:gpt-4o"
    assert (await port.complete(_request("localx/m"))).text == "default:localx/m"  # whole prefix only
    assert built == ["local", "default"]  # each adapter built once


async def test_prepare_builds_and_warms_only_the_named_models_adapters() -> None:
    warmed: list[str] = []

    class Warm(FunctionLLM):
        def warm_up(self) -> None:
            warmed.append("local")

    built: list[str] = []

    def default() -> FunctionLLM:
        built.append("default")
        return _reply("default")

    port = ModelRoutedChat({"local": lambda: Warm(lambda r: "x")}, default=default)
    await port.prepare(["local/extractive"])
    assert warmed == ["local"] and built == []


async def test_embeddings_route_by_prefix_and_report_the_adapters_dimensions() -> None:
    local = HashEmbeddings(dimensions=4)
    remote = HashEmbeddings(dimensions=8)
    port = ModelRoutedEmbeddings({"local": lambda: local}, default=lambda: remote)
    assert port.dimensions("local/all-minilm-l6-v2") == 4
    assert port.dimensions("openai/text-embedding-3-small") == 8
    response = await port.embed(EmbeddingRequest(model="local/m", inputs=("a", "b")))
    assert [len(v) for v in response.vectors] == [4, 4]
    assert [r.inputs for r in local.calls] == [("a", "b")] and remote.calls == []


@pytest.mark.parametrize("prefix", ["", "Local", "a/b", "x" * 65])
def test_a_plugin_model_prefix_is_validated_whole(prefix: str) -> None:
    from motadata_ai import hookimpl
    from motadata_ai.domain.values.errors import ConfigurationError
    from motadata_ai.plugins import PluginManager

    class Plugin:
        @hookimpl
        def register_model_adapters(self, register):  # type: ignore[no-untyped-def]
            register("llm", prefix, lambda: _reply("p"))

    manager = PluginManager(allow=[])
    manager.register(Plugin(), name="bad")
    with pytest.raises(ConfigurationError):
        manager.model_adapters("llm")


def test_the_builtin_plugin_serves_local_models_in_process() -> None:
    from motadata_ai.adapters.local.chat import LocalChat
    from motadata_ai.adapters.local.embeddings import LocalEmbeddings
    from motadata_ai.plugins import PluginManager

    manager = PluginManager(allow=["builtin"]).load()
    assert isinstance(manager.model_adapters("llm")["local"](), LocalChat)
    assert isinstance(manager.model_adapters("embeddings")["local"](), LocalEmbeddings)


async def test_health_probes_the_built_routes_only_and_reports_the_worst() -> None:
    class Down(FunctionLLM):
        async def health(self) -> ComponentHealth:
            return ComponentHealth(status="down", details={"probe": "request"}, error="ConnectError")

    built: list[str] = []

    def default() -> FunctionLLM:
        built.append("default")
        return Down(lambda r: "x")

    port = ModelRoutedChat({"local": lambda: _reply("local")}, default=default)
    empty = await port.health()
    assert (empty.status, empty.details) == ("ok", {"probe": "routes", "routes": {}})
    await port.complete(_request("local/extractive"))
    local_only = await port.health()
    assert local_only.status == "ok" and set(local_only.details["routes"]) == {"local"}
    assert local_only.details["routes"]["local"]["details"]["probe"] == "in-process"
    port.routes.for_model("openai/gpt-4o")
    both = await port.health()
    assert both.status == "down" and both.error == "default: ConnectError"
    assert both.details["routes"]["default"]["adapter"] == "Down"
    assert built == ["default"]  # built by the test, never by a probe


async def test_the_server_address_is_the_built_adapters_and_asking_builds_nothing() -> None:
    class Served(FunctionLLM):
        def server_address(self, model: str) -> ServerAddress | None:
            return ServerAddress("llm.internal", 443)

    built: list[str] = []

    def default() -> FunctionLLM:
        built.append("default")
        return Served(lambda r: "x")

    port = ModelRoutedChat({}, default=default)
    assert port.server_address("openai/gpt-4o") is None and built == []
    await port.complete(_request("openai/gpt-4o"))
    assert port.server_address("openai/gpt-4o") == ServerAddress("llm.internal", 443)

def test_canonical_names_build_no_adapter_for_a_prefixed_name() -> None:
    built: list[str] = []

    class Qualifying(FunctionLLM):
        def canonical_model(self, model: str) -> str:
            return f"openai/{model}"

    def make(name: str) -> FunctionLLM:
        built.append(name)
        return Qualifying(lambda request: name)

    port = ModelRoutedChat({"local": lambda: make("local")}, default=lambda: make("default"))
    assert port.canonical_model("local/all-minilm-l6-v2") == "local/all-minilm-l6-v2"
    assert port.canonical_model("anthropic/claude-3-haiku") == "anthropic/claude-3-haiku"
    assert built == []
    assert port.canonical_model("gpt-4o-mini") == "openai/gpt-4o-mini"
    assert built == ["default"]
