"""PluginManager: registration through hooks, validation, de-duplication, lookups."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.plugins import PluginManager, hookimpl, hookspecs


def plugin(name: str, **hooks: Callable[..., None]) -> types.SimpleNamespace:
    """A plugin object whose hooks are the given functions."""
    return types.SimpleNamespace(__name__=name, **{k: hookimpl(v) for k, v in hooks.items()})


def lookup_asset(asset_tag: str) -> dict[str, str]:
    """Look an asset up."""
    return {"asset_tag": asset_tag}


class NamedTool:
    name = "restart_service"


def manager(*plugins: Any) -> PluginManager:
    pm = PluginManager(allow=[])
    for item in plugins:
        pm.register(item)
    return pm


def test_collects_every_kind_of_registration() -> None:
    handler, factory = object(), (lambda: None)
    pm = manager(
        plugin(
            "acme",
            register_llm_providers=lambda register: register(
                "acme", handler, models={"acme/x": {"mode": "chat"}}
            ),
            register_embedding_providers=lambda register: register("acme", handler),
            register_tools=lambda register: [register(lookup_asset), register(NamedTool())],
            register_adapters=lambda register: register("vector_store", "acme", factory),
        )
    )
    assert pm.plugins == ["acme"]
    (llm,) = pm.llm_providers().values()
    assert (llm.name, llm.handler, llm.plugin, llm.models) == (
        "acme",
        handler,
        "acme",
        {"acme/x": {"mode": "chat"}},
    )
    assert list(pm.embedding_providers()) == ["acme"]
    assert sorted(pm.tools()) == ["lookup_asset", "restart_service"]
    assert pm.tool("lookup_asset") is lookup_asset
    assert pm.adapter("vector_store", "acme") is factory


def test_duplicate_provider_names_both_plugins() -> None:
    pm = manager(
        plugin("one", register_llm_providers=lambda register: register("shared", object())),
        plugin("two", register_llm_providers=lambda register: register("shared", object())),
    )
    with pytest.raises(ConfigurationError) as caught:
        pm.llm_providers()
    assert "'one'" in str(caught.value) and "'two'" in str(caught.value) and "'shared'" in str(caught.value)


def test_same_name_for_chat_and_embeddings_is_fine() -> None:
    pm = manager(
        plugin("one", register_llm_providers=lambda register: register("local", object())),
        plugin("two", register_embedding_providers=lambda register: register("local", object())),
    )
    assert list(pm.llm_providers()) == ["local"] and list(pm.embedding_providers()) == ["local"]


def test_duplicate_tools_and_adapters() -> None:
    pm = manager(
        plugin("one", register_tools=lambda register: register(lookup_asset)),
        plugin("two", register_tools=lambda register: register(lookup_asset)),
    )
    with pytest.raises(ConfigurationError, match="tool 'lookup_asset' is registered by both"):
        pm.tools()
    pm = manager(
        plugin("one", register_adapters=lambda register: register("cache", "x", dict)),
        plugin("two", register_adapters=lambda register: register("cache", "x", dict)),
    )
    with pytest.raises(ConfigurationError, match="adapter 'x' for port 'cache'"):
        pm.adapters()


@pytest.mark.parametrize("name", ["", "a/b", 3])
def test_invalid_provider_names(name: Any) -> None:
    pm = manager(plugin("bad", register_llm_providers=lambda register: register(name, object())))
    with pytest.raises(ConfigurationError, match="'bad'"):
        pm.llm_providers()


def test_invalid_registrations_name_the_plugin() -> None:
    for bad in (
        plugin("p1", register_llm_providers=lambda register: register("x", None)),
        plugin("p2", register_adapters=lambda register: register("cache", "x", "not callable")),
        plugin("p3", register_tools=lambda register: register(object())),
    ):
        with pytest.raises(ConfigurationError):
            manager(bad).tools()


def test_a_hook_that_raises_names_the_plugin() -> None:
    def explode(register: Callable[..., None]) -> None:
        raise RuntimeError("boom")

    with pytest.raises(
        ConfigurationError, match="plugin 'fragile' failed in register_tools: RuntimeError: boom"
    ):
        manager(plugin("fragile", register_tools=explode)).tools()


def test_unknown_hooks_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="'typo'"):
        manager(plugin("typo", register_toolz=lambda register: None))


def test_registering_twice_is_an_error() -> None:
    item = plugin("once")
    pm = manager(item)
    with pytest.raises(ConfigurationError, match="registered twice"):
        pm.register(item)


def test_unknown_tool_and_adapter_list_what_exists() -> None:
    pm = manager(
        plugin(
            "acme",
            register_tools=lambda register: register(lookup_asset),
            register_adapters=lambda register: register("cache", "acme", dict),
        )
    )
    with pytest.raises(ConfigurationError) as caught:
        pm.tool("nope")
    assert "lookup_asset" in str(caught.value) and caught.value.available == ["lookup_asset"]
    with pytest.raises(ConfigurationError) as caught:
        pm.adapter("cache", "redis")
    assert "acme" in str(caught.value) and caught.value.available == ["acme"]


def test_builtin_is_installed_and_loads_without_litellm() -> None:
    pm = PluginManager(allow=["builtin"]).load()
    assert "builtin" in pm.installed()
    assert pm.plugins == ["builtin"]
    assert list(pm.llm_providers()) == ["local"]
    assert list(pm.embedding_providers()) == ["local"]
    assert {name for _, name in pm.adapters()} == {"litellm", "otel"}
    assert "local/extractive" in pm.llm_providers()["local"].models
    assert "local/all-minilm-l6-v2" in pm.embedding_providers()["local"].models


def test_under_pytest_only_builtin_loads_by_default() -> None:
    assert PluginManager().load().plugins == ["builtin"]


def test_unknown_allowed_plugin_lists_what_is_installed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        PluginManager(allow=["no-such-plugin"]).load()
    message = str(caught.value)
    assert "'no-such-plugin' is not installed" in message
    assert "builtin" in message
    assert caught.value.plugin == "no-such-plugin"
    assert "builtin" in caught.value.installed


def test_hookimpl_is_the_projects_marker() -> None:
    assert hookimpl.project_name == hookspecs.PROJECT == "motadata_ai"


def test_plugins_never_need_pluggy() -> None:
    PluginManager(allow=["builtin"]).load()
    source = sys.modules["motadata_ai.plugins.builtin"].__file__
    assert source is not None
    with open(source, encoding="utf-8") as handle:
        assert "pluggy" not in handle.read()


def test_an_adapter_for_a_port_no_one_can_select_is_refused_at_registration() -> None:
    pm = manager(plugin("acme", register_adapters=lambda register: register("embedding", "x", dict)))
    with pytest.raises(ConfigurationError, match=r"unknown port 'embedding'.*embeddings"):
        pm.adapters()


def test_every_builtin_adapter_is_registered_under_a_port_connect_accepts() -> None:
    from motadata_ai.plugins import builtin
    from motadata_ai.ports.names import ADAPTER_PORTS

    pm = manager(builtin)
    ports = {port for port, _ in pm.adapters()}
    assert ports and ports <= set(ADAPTER_PORTS)
    assert ("embeddings", "litellm") in pm.adapters()  # was registered as "embedding"
