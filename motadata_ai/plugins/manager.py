"""PluginManager: loads plugins from the ``motadata_ai`` entry-point group and collects what they register.

Every hook receives a ``register`` callback; registrations are validated, attributed to their
plugin and de-duplicated (a name registered twice is a :class:`ConfigurationError` naming both
plugins). LLM and embedding providers become LiteLLM custom providers with
:meth:`PluginManager.install_providers`; model adapters (in-process ports serving ``<prefix>/...``
models, routed before LiteLLM), tools and adapters are handed to whoever asks.

Under pytest, a manager without an allow-list loads only the built-in plugin: third-party
plugins load only when a test names them in ``allow``. Nothing is global: a manager's
registrations live on the manager, and :meth:`uninstall_providers` removes the LiteLLM providers
it installed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.plugins import hookspecs
from motadata_ai.ports.names import ADAPTER_PORTS, MODEL_ROUTED_PORTS, is_port_name

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "AdapterRegistration", "PluginManager", "ProviderRegistration"]

ENTRY_POINT_GROUP = "motadata_ai"
BUILTIN = "builtin"
_PREFIX = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class ProviderRegistration:
    """A LiteLLM custom provider a plugin registered (``handler``: a ``CustomLLM`` or a factory)."""

    name: str
    handler: Any
    plugin: str
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class AdapterRegistration:
    """An adapter factory for a port."""

    port: str
    name: str
    factory: Callable[..., Any]
    plugin: str


def _under_pytest() -> bool:
    return "PYTEST_CURRENT_TEST" in os.environ


def _tool_name(tool: Any) -> str:
    name = getattr(tool, "name", None)
    if isinstance(name, str) and name:
        return name
    name = getattr(tool, "__name__", None)
    if isinstance(name, str) and name:
        return name
    raise ConfigurationError(f"a tool needs a name (a function or an object with .name), got {tool!r}")


class PluginManager:
    """Discovers, loads and queries plugins.

    ``allow``: entry-point names to load (``None``: every installed plugin; under pytest only
    ``builtin``). An allow-listed name that is not installed, or a plugin that fails to import,
    raises :class:`ConfigurationError` naming it and listing what is installed.
    """

    def __init__(self, *, allow: Iterable[str] | None = None, group: str = ENTRY_POINT_GROUP) -> None:
        self.allow = list(allow) if allow is not None else None
        self.group = group
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._loaded = False
        self._collected = False
        self._llm: dict[str, ProviderRegistration] = {}
        self._embedding: dict[str, ProviderRegistration] = {}
        self._tools: dict[str, tuple[Any, str]] = {}
        self._adapters: dict[tuple[str, str], AdapterRegistration] = {}
        self._model_adapters: dict[tuple[str, str], AdapterRegistration] = {}
        self._installed: list[str] = []

    # --- loading ---------------------------------------------------------------------------------
    def installed(self) -> dict[str, metadata.EntryPoint]:
        """Every plugin installed in the environment, by entry-point name."""
        found: dict[str, metadata.EntryPoint] = {}
        for entry_point in metadata.entry_points(group=self.group):
            found.setdefault(entry_point.name, entry_point)
        return found

    def load(self) -> PluginManager:
        """Import and register the allowed plugins (once); returns ``self``."""
        if self._loaded:
            return self
        installed = self.installed()
        names = self.allow
        if names is None:
            names = [BUILTIN] if _under_pytest() else sorted(installed)
        listing = ", ".join(sorted(installed)) or "none"
        for name in names:
            entry_point = installed.get(name)
            if entry_point is None:
                raise ConfigurationError(
                    f"plugin {name!r} is not installed (installed plugins: {listing})",
                    plugin=name,
                    installed=sorted(installed),
                )
            try:
                plugin = entry_point.load()
            except Exception as error:
                raise ConfigurationError(
                    f"plugin {name!r} ({entry_point.value}) failed to load: "
                    f"{type(error).__name__}: {error} (installed plugins: {listing})",
                    plugin=name,
                    installed=sorted(installed),
                ) from error
            self.register(plugin, name=name)
        self._loaded = True
        return self

    def register(self, plugin: object, *, name: str | None = None) -> None:
        """Register a plugin object or module directly (tests, applications)."""
        plugin_name = name or getattr(plugin, "__name__", None) or repr(plugin)
        if self._pm.has_plugin(plugin_name) or self._pm.is_registered(plugin):
            raise ConfigurationError(f"plugin {plugin_name!r} is registered twice", plugin=plugin_name)
        try:
            self._pm.register(plugin, name=plugin_name)
            self._pm.check_pending()  # a misspelt hook name is an error, not a silent no-op
        except (pluggy.PluginValidationError, ValueError) as error:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            raise ConfigurationError(
                f"plugin {plugin_name!r} is invalid: {error}", plugin=plugin_name
            ) from error
        self._collected = False

    @property
    def plugins(self) -> list[str]:
        """Names of the registered plugins."""
        return sorted(name for name, _ in self._pm.list_name_plugin())

    # --- collecting ------------------------------------------------------------------------------
    def _call(self, hook_name: str, make_register: Callable[[str], Callable[..., None]]) -> None:
        hook = getattr(self._pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            try:
                impl.function(register=make_register(impl.plugin_name))
            except ConfigurationError:
                raise
            except Exception as error:
                raise ConfigurationError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(error).__name__}: {error}",
                    plugin=impl.plugin_name,
                ) from error

    def _collect(self) -> None:
        if self._collected:
            return
        self.load()
        self._llm, self._embedding, self._tools, self._adapters = {}, {}, {}, {}
        self._model_adapters = {}

        def provider_register(kind: str, target: dict[str, ProviderRegistration]) -> Callable[[str], Any]:
            def for_plugin(plugin: str) -> Callable[..., None]:
                def register(
                    name: str, handler: Any, models: dict[str, dict[str, Any]] | None = None
                ) -> None:
                    if not isinstance(name, str) or not name or "/" in name:
                        raise ConfigurationError(
                            f"plugin {plugin!r} registered {kind} provider name {name!r}: "
                            "it must be a non-empty string without '/'",
                            plugin=plugin,
                        )
                    if handler is None:
                        raise ConfigurationError(
                            f"plugin {plugin!r} registered {kind} provider {name!r} without a handler",
                            plugin=plugin,
                        )
                    if name in target:
                        raise ConfigurationError(
                            f"{kind} provider {name!r} is registered by both {target[name].plugin!r} "
                            f"and {plugin!r}",
                            plugin=plugin,
                            provider=name,
                        )
                    target[name] = ProviderRegistration(name, handler, plugin, dict(models or {}))

                return register

            return for_plugin

        def tool_register(plugin: str) -> Callable[[Any], None]:
            def register(tool: Any) -> None:
                name = _tool_name(tool)
                if name in self._tools:
                    raise ConfigurationError(
                        f"tool {name!r} is registered by both {self._tools[name][1]!r} and {plugin!r}",
                        plugin=plugin,
                        tool=name,
                    )
                self._tools[name] = (tool, plugin)

            return register

        def adapter_register(plugin: str) -> Callable[[str, str, Callable[..., Any]], None]:
            def register(port: str, name: str, factory: Callable[..., Any]) -> None:
                if not is_port_name(port):
                    raise ConfigurationError(
                        f"plugin {plugin!r} registered adapter {name!r} for unknown port {port!r} "
                        f"(ports: {', '.join(ADAPTER_PORTS)})",
                        plugin=plugin,
                        port=port,
                    )
                if not callable(factory):
                    raise ConfigurationError(
                        f"plugin {plugin!r} registered adapter {port}/{name} with a non-callable factory",
                        plugin=plugin,
                    )
                key = (port, name)
                if key in self._adapters:
                    raise ConfigurationError(
                        f"adapter {name!r} for port {port!r} is registered by both "
                        f"{self._adapters[key].plugin!r} and {plugin!r}",
                        plugin=plugin,
                    )
                self._adapters[key] = AdapterRegistration(port, name, factory, plugin)

            return register

        def model_adapter_register(plugin: str) -> Callable[[str, str, Callable[[], Any]], None]:
            def register(port: str, prefix: str, factory: Callable[[], Any]) -> None:
                if port not in MODEL_ROUTED_PORTS:
                    raise ConfigurationError(
                        f"plugin {plugin!r} registered a model adapter for port {port!r}: "
                        f"it must be one of {', '.join(MODEL_ROUTED_PORTS)}",
                        plugin=plugin,
                    )
                if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
                    raise ConfigurationError(
                        f"plugin {plugin!r} registered model prefix {prefix!r}: "
                        f"it must match {_PREFIX.pattern}",
                        plugin=plugin,
                    )
                if not callable(factory):
                    raise ConfigurationError(
                        f"plugin {plugin!r} registered model adapter {port}/{prefix} "
                        "with a non-callable factory",
                        plugin=plugin,
                    )
                key = (port, prefix)
                if key in self._model_adapters:
                    raise ConfigurationError(
                        f"models {prefix}/... of port {port!r} are served by both "
                        f"{self._model_adapters[key].plugin!r} and {plugin!r}",
                        plugin=plugin,
                    )
                self._model_adapters[key] = AdapterRegistration(port, prefix, factory, plugin)

            return register

        self._call("register_llm_providers", provider_register("LLM", self._llm))
        self._call("register_embedding_providers", provider_register("embedding", self._embedding))
        self._call("register_tools", tool_register)
        self._call("register_adapters", adapter_register)
        self._call("register_model_adapters", model_adapter_register)
        self._collected = True

    # --- queries ---------------------------------------------------------------------------------
    def llm_providers(self) -> dict[str, ProviderRegistration]:
        """The registered LiteLLM chat providers, by name."""
        self._collect()
        return dict(self._llm)

    def embedding_providers(self) -> dict[str, ProviderRegistration]:
        """The registered LiteLLM embedding providers, by name."""
        self._collect()
        return dict(self._embedding)

    def tools(self) -> dict[str, Any]:
        """The registered tools (functions or tool objects), by tool name."""
        self._collect()
        return {name: tool for name, (tool, _) in self._tools.items()}

    def tool(self, name: str) -> Any:
        """One registered tool; :class:`ConfigurationError` listing the others when unknown."""
        tools = self.tools()
        if name not in tools:
            raise ConfigurationError(
                f"no plugin registers tool {name!r} (registered: {', '.join(sorted(tools)) or 'none'})",
                tool=name,
                available=sorted(tools),
            )
        return tools[name]

    def adapters(self, port: str | None = None) -> dict[tuple[str, str], AdapterRegistration]:
        """The registered adapter factories, by ``(port, name)`` (only ``port``'s when given)."""
        self._collect()
        return {key: value for key, value in self._adapters.items() if port is None or key[0] == port}

    def model_adapters(self, port: str) -> dict[str, Callable[[], Any]]:
        """The in-process adapter factories of ``port`` (``llm`` or ``embeddings``), by model prefix."""
        self._collect()
        return {prefix: r.factory for (p, prefix), r in self._model_adapters.items() if p == port}

    def adapter(self, port: str, name: str) -> Callable[..., Any]:
        """One adapter factory; :class:`ConfigurationError` listing the port's adapters when unknown."""
        found = self.adapters(port)
        if (port, name) not in found:
            names = sorted(n for _, n in found)
            raise ConfigurationError(
                f"no adapter {name!r} for port {port!r} (registered: {', '.join(names) or 'none'})",
                port=port,
                adapter=name,
                available=names,
            )
        return found[(port, name)].factory

    # --- LiteLLM ---------------------------------------------------------------------------------
    def install_providers(self) -> list[str]:
        """Make every registered provider a LiteLLM custom provider (idempotent); returns their names.

        LiteLLM is not imported here: handlers are installed into ``litellm.custom_provider_map``
        when LiteLLM first loads (or now, if it already has).
        """
        from motadata_ai.adapters.litellm import register_custom_provider, register_model_info

        llm, embedding = self.llm_providers(), self.embedding_providers()
        names = sorted(set(llm) | set(embedding))
        for name in names:
            if name in self._installed:
                continue
            chat = llm.get(name)
            embed = embedding.get(name)
            register_custom_provider(
                name,
                chat=chat.handler if chat else None,
                embedding=embed.handler if embed else None,
            )
            for registration in (chat, embed):
                for model, info in (registration.models if registration else {}).items():
                    register_model_info(model, info)
            self._installed.append(name)
        return names

    def uninstall_providers(self) -> None:
        """Remove the LiteLLM providers :meth:`install_providers` installed."""
        from motadata_ai.adapters.litellm import unregister_custom_provider

        for name in self._installed:
            unregister_custom_provider(name)
        self._installed = []
