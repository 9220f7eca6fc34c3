"""The public entry points: ``connect()`` for a whole app, and the ``create_*`` factories.

``async with motadata_ai.connect() as ai:`` builds every adapter from :class:`Settings` through
the container, starts what needs starting (the embedded PostgreSQL on the ``local`` profile,
pools, connections) and stops it all on exit. ``ai.gateway``, ``ai.rag(tenant)``,
``ai.agent(tenant)``, ``ai.ml(tenant)`` and ``ai.query(...)`` are the use-cases.

The ``create_*`` factories mirror the familiar function style for code that holds an ``AI``
(or its parts) already: each takes ``tenant_id`` and keyword options.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.container import Container
    from motadata_ai.domain.agents.agent import Agent
    from motadata_ai.domain.gateway.service import Gateway
    from motadata_ai.domain.ml.system import MLSystem
    from motadata_ai.domain.privacy.consent import Consent
    from motadata_ai.domain.privacy.service import Privacy
    from motadata_ai.domain.retrieval.config import RAGConfig
    from motadata_ai.domain.retrieval.system import RAGSystem
    from motadata_ai.domain.routing.unified import UnifiedQuery, UnifiedResponse

__all__ = [
    "AI",
    "connect",
    "create_agent",
    "create_gateway",
    "create_ml_system",
    "create_rag_system",
    "create_unified_query_endpoint",
]


log = logging.getLogger(__name__)

WARM_UP_PORTS = ("llm", "embeddings")
"""What ``connect(warm_up=...)`` can prepare at start-up: the default chat and embedding models."""

_USE_CASE_MODULES = (
    "motadata_ai.domain.routing.unified",
    "motadata_ai.domain.retrieval.system",
    "motadata_ai.domain.agents.agent",
)


async def _resolve(value: Any) -> Any:
    """Providers with async dependencies return awaitables; plain ones return the object."""
    return await value if inspect.isawaitable(value) else value


class AI:
    """A connected SDK: the gateway, and per-tenant RAG, agents and ML over shared adapters."""

    def __init__(self, container: Container, ports: dict[str, Any]) -> None:
        self.container = container
        self.settings: Settings = container.settings()
        self._ports = ports
        self.gateway: Gateway = ports["gateway"]
        self._ml_systems: dict[str, MLSystem] = {}
        self._models: Any = None
        self._unified: UnifiedQuery | None = None
        self._consent: Consent | None = None
        self._warm_up: asyncio.Future[None] | None = None

    @property
    def ready(self) -> bool:
        """Whether the start-up work (model loads, heavy imports) has finished."""
        return self._warm_up is None or self._warm_up.done()

    async def wait_ready(self) -> None:
        """Wait for the start-up work ``connect()`` began (never raises: a model that failed to
        load reports its error on the first call that needs it)."""
        if self._warm_up is not None:
            await asyncio.shield(self._warm_up)

    def port(self, name: str) -> Any:
        """A resolved adapter by container name (``vector_store``, ``cache``, ``bus`` ...)."""
        return self._ports[name]

    @property
    def privacy(self) -> Privacy:
        """Erase and export one user's data across every store (``erase_user``, ``export_user``)."""
        return self._ports["privacy"]  # type: ignore[no-any-return]

    @property
    def consent(self) -> Consent:
        """Per tenant, user and purpose: ``grant``, ``revoke``, ``check``."""
        if self._consent is None:
            from motadata_ai.domain.privacy.consent import Consent

            self._consent = Consent(
                self._ports["consent_store"], memory=self._ports["memory_store"], trail=self.audit_trail
            )
        return self._consent

    @property
    def audit_trail(self) -> Any:
        """The buffered audit trail (``None`` with ``privacy.audit`` off); ``await
        ai.audit_trail.flush()`` writes what is pending, ``ai.port("audit_log")`` reads it."""
        return self._ports.get("audit_trail")

    def _audited(self, use_case: Any) -> Any:
        use_case.audit_trail = self.audit_trail
        return use_case

    def rag(self, tenant_id: str, **options: Any) -> RAGSystem:
        """The tenant's RAG system; ``options`` override the settings' defaults."""
        return self._audited(create_rag_system(
            tenant_id=tenant_id,
            gateway=self.gateway,
            vector_store=self._ports["vector_store"],
            documents=self._ports["documents"],
            settings=self.settings,
            parser=self._ports["parser"],
            tokenizer=self._ports["tokenizer"],
            **{"conversations": self._ports["conversations"], **options},
        ))

    def agent(
        self,
        tenant_id: str,
        *,
        agent_id: str = "assistant",
        name: str = "ITSM assistant",
        tools: Iterable[Any] | None = None,
        knowledge: bool = True,
        **options: Any,
    ) -> Agent:
        """An agent of the tenant with the ``knowledge_search`` tool (over the tenant's RAG) and
        every tool registered by plugins, unless ``tools`` is given."""
        from motadata_ai.domain.agents.knowledge import knowledge_search_tool

        chosen = list(tools) if tools is not None else list(self._ports["plugins"].tools().values())
        if knowledge:
            chosen.append(knowledge_search_tool(self.rag(tenant_id), top_k=self.settings.top_k))
        agent = self._audited(create_agent(
            agent_id=agent_id,
            name=name,
            gateway=self.gateway,
            tenant_id=tenant_id,
            tools=chosen,
            memory=self._ports["memory_store"],
            bus=self._ports["bus"],
            telemetry=self._ports["telemetry"],
            settings=self.settings,
            **options,
        ))
        if self.settings.privacy.memory_requires_consent and agent.memory is not None:
            agent.memory.consent = self.consent.checker("memory")
        return agent  # type: ignore[no-any-return]

    def _model_cache(self) -> Any:
        """One loaded-model LRU for every tenant, so ``max_memory_mb`` bounds this process."""
        if self._models is None:
            from motadata_ai.domain.ml.serving import ModelLRU

            self._models = ModelLRU(max_bytes=int(self.settings.max_memory_mb * 1024 * 1024))
        return self._models

    def ml(self, tenant_id: str, **options: Any) -> MLSystem:
        """The tenant's ML system. Every tenant's system shares one loaded-model LRU bounded by
        ``max_memory_mb`` (unless ``max_memory_mb`` is passed here); without ``options`` the
        system is kept and returned again."""
        tenant_id = validate_tenant_id(tenant_id)
        if not options and tenant_id in self._ml_systems:
            return self._ml_systems[tenant_id]
        system = create_ml_system(
            tenant_id=tenant_id,
            registry=self._ports["model_registry"],
            experiments=self._ports["experiments"],
            artifacts=self._ports["artifacts"],
            prediction_log=self._ports["prediction_log"],
            trainers=self.container.trainers(),
            cache=self._ports["cache"],
            bus=self._ports["bus"],
            settings=self.settings,
            **({} if "max_memory_mb" in options else {"model_cache": self._model_cache()}),
            **options,
        )
        self._audited(system)
        if not options:
            self._ml_systems[tenant_id] = system
        return system

    @property
    def unified(self) -> UnifiedQuery:
        """The unified query endpoint over this app's RAG and agents."""
        if self._unified is None:
            self._unified = create_unified_query_endpoint(
                rag_factory=self.rag, agent_factory=self.agent, gateway=self.gateway
            )
        return self._unified

    async def query(
        self,
        query: str,
        *,
        tenant_id: str,
        user_id: str | None = None,
        conversation_id: str | None = None,
        mode: Literal["auto", "agent", "rag", "both"] = "auto",
    ) -> UnifiedResponse:
        """Route ``query`` to RAG, an agent, or both (``mode``: auto, agent, rag, both)."""
        return await self.unified.query(
            query, tenant_id=tenant_id, user_id=user_id, conversation_id=conversation_id, mode=mode
        )

    async def health(self) -> dict[str, Any]:
        """The gateway's health (breakers, cache, ledger) and the profile in use."""
        gateway = await self.gateway.health()
        return {"profile": self.settings.profile, "gateway": dataclasses.asdict(gateway)}


_EAGER_PORTS = (
    "cache",
    "bus",
    "telemetry",
    "plugins",
    "vector_store",
    "documents",
    "memory_store",
    "model_registry",
    "experiments",
    "prediction_log",
    "artifacts",
    "tokenizer",
    "parser",
    "gateway",
    "consent_store",
    "conversations",
    "encryption",
    "usage_ledger",
    "audit_log",
    "audit_trail",
    "privacy",
)




async def _use_plugin_adapters(container: Container) -> list[Any]:
    """Override the ports named in ``settings.adapters`` with the adapters plugins registered."""
    from dependency_injector import providers

    from motadata_ai.domain.values.errors import ConfigurationError
    from motadata_ai.ports.names import ADAPTER_PORTS, is_port_name

    settings: Settings = container.settings()
    built = []
    for port, name in settings.adapters.items():
        if not is_port_name(port):
            raise ConfigurationError(
                f"unknown port {port!r} in adapters (ports: {', '.join(ADAPTER_PORTS)})", port=port
            )
        factory = (await _resolve(container.plugins())).adapter(port, name)
        adapter = await _resolve(factory(**settings.adapter_options.get(port, {})))
        getattr(container, port).override(providers.Object(adapter))
        built.append(adapter)
    return built


def _warm_up_ports(warm_up: bool | Collection[str]) -> tuple[str, ...]:
    from motadata_ai.domain.values.errors import ConfigurationError

    if warm_up is True:
        return WARM_UP_PORTS
    if warm_up is False:
        return ()
    unknown = sorted(set(warm_up) - set(WARM_UP_PORTS))
    if unknown:
        raise ConfigurationError(
            f"warm_up names unknown ports {unknown} (ports: {', '.join(WARM_UP_PORTS)})", field="warm_up"
        )
    return tuple(p for p in WARM_UP_PORTS if p in warm_up)


async def _warm(container: Container, ports: tuple[str, ...]) -> None:
    """Prepare the default models of ``ports`` on worker threads."""
    settings: Settings = container.settings()
    models = {"llm": settings.llm_model, "embeddings": settings.embedding_model}
    for port in ports:
        adapter = await _resolve(getattr(container, port)())
        try:
            if hasattr(adapter, "prepare"):  # a model-routed port: warm the default model's adapter
                await adapter.prepare([models[port]])
            elif hasattr(adapter, "warm_up"):
                await asyncio.to_thread(adapter.warm_up)
        except Exception as error:  # the first call that needs the model reports it
            log.warning("could not prepare %s for %s: %s", port, models[port], error)


WARM_UP_TENANT = "motadata-warm-up"
"""The tenant the start-up search runs for: none holds data, so nothing is read or written."""


async def _warm_search(container: Container, vector_store: Any) -> None:
    """One dense and one keyword search, concurrently, for a tenant with no data: opens the pool's
    connections and prepares the statements, so the first real query does not pay for them."""
    settings: Settings = container.settings()
    tenant = TenantContext(tenant_id=WARM_UP_TENANT)
    try:
        await asyncio.gather(
            vector_store.dense_search(tenant, (0.0,) * (settings.embedding_dimensions - 1) + (1.0,), top_k=1),
            vector_store.keyword_search(tenant, "warm up", top_k=1),
        )
    except Exception as error:  # a store that is down reports it on the first real call
        log.warning("the start-up search failed: %s", error)


def _warming_message(settings: Settings, ports: tuple[str, ...]) -> str:
    if "embeddings" in ports and settings.embedding_model.startswith("local/"):
        return "loading the embedding model…"
    return "loading the models…"


def _chain(first: asyncio.Task[None] | None, then: Any) -> asyncio.Task[None]:
    async def both() -> None:
        if first is not None:
            await first
        await then

    return asyncio.create_task(both())


@asynccontextmanager
async def connect(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    warm_up: bool | Collection[str] = True,
    status: Callable[[str], None] | None = None,
) -> AsyncIterator[AI]:
    """Build, start and finally stop every adapter for ``settings`` (default: from the environment).

    Pass ``container`` (with providers overridden) to run the same app on test doubles.
    ``warm_up`` (``True``, ``False`` or some of ``"llm"``, ``"embeddings"``): prepare the default
    models (load the MiniLM weights, import LiteLLM for a remote model) on worker threads while the
    database starts, and return once they are ready, so the first call finds them loaded.
    ``status`` is told what start-up is doing ("starting the embedded database…").
    """
    from motadata_ai.container import Container

    if container is None:
        container = Container(settings=settings or Settings())
    chosen = _warm_up_ports(warm_up)
    say = status or (lambda _: None)
    ports: dict[str, Any] = {}
    plugin_adapters: list[Any] = []
    warming: asyncio.Task[None] | None = None
    try:
        plugin_adapters = await _use_plugin_adapters(container)
        resolved: Settings = container.settings()
        if chosen:
            # The use-cases are imported here, on this thread, before anything runs on worker
            # threads: importing is GIL-bound anyway, and two threads importing modules of one
            # package at once can meet a partially initialised module.
            for name in _USE_CASE_MODULES:
                importlib.import_module(name)
            warming = asyncio.create_task(_warm(container, chosen))
        if resolved.profile == "local":
            say("starting the embedded database…")
        for name in _EAGER_PORTS:
            ports[name] = await _resolve(getattr(container, name)())
        ai = AI(container, ports)
        if "embeddings" in chosen:  # a process that will search: warm the search path too
            warming = _chain(warming, _warm_search(container, ports["vector_store"]))
        if warming is not None:
            ai._warm_up = warming
            if not warming.done():
                say(_warming_message(resolved, chosen))
            await ai.wait_ready()
        yield ai
    finally:
        if warming is not None and not warming.done():
            warming.cancel()
            await asyncio.gather(warming, return_exceptions=True)
        gateway = ports.get("gateway")
        if gateway is not None:
            await gateway.aclose()
        if ports.get("audit_trail") is not None:  # every buffered audit event, before the pools go
            await ports["audit_trail"].aclose()
            for name in ("llm", "embeddings"):
                await (await _resolve(getattr(container, name)())).aclose()
        for adapter in plugin_adapters:
            if hasattr(adapter, "aclose"):
                await adapter.aclose()
        telemetry = ports.get("telemetry")
        if telemetry is not None:
            telemetry.shutdown()
        result = container.shutdown_resources()
        if inspect.isawaitable(result):
            await result


# --- factories ----------------------------------------------------------------------------------


def create_gateway(
    *,
    tenant_id: str | None = None,
    llm: Any = None,
    embeddings: Any = None,
    settings: Settings | None = None,
    **ports: Any,
) -> Gateway:
    """A gateway over ``llm``/``embeddings`` (default: LiteLLM with the local providers) with
    in-process cache, limits and ledger unless given in ``ports``. ``tenant_id`` is validated
    here and then passed per call (one gateway serves every tenant)."""
    from motadata_ai.container import _embeddings, _gateway_config, _llm, _memory_cache, _plugins
    from motadata_ai.domain.gateway.service import Gateway

    if tenant_id is not None:
        validate_tenant_id(tenant_id)
    settings = settings or Settings()
    if llm is None or embeddings is None:
        plugins = _plugins(settings)
        llm = llm or _llm(settings, plugins)
        embeddings = embeddings or _embeddings(settings, plugins)
    ports.setdefault("config", _gateway_config(settings))
    ports.setdefault("cache", _memory_cache(settings))
    return Gateway(llm=llm, embeddings=embeddings, **ports)


def create_rag_system(
    *,
    tenant_id: str | TenantContext,
    gateway: Gateway,
    vector_store: Any,
    documents: Any,
    settings: Settings | None = None,
    tokenizer: Any = None,
    config: RAGConfig | None = None,
    **options: Any,
) -> RAGSystem:
    """A tenant's RAG system over the given stores.

    Its :class:`~motadata_ai.domain.retrieval.config.RAGConfig` is ``config`` (default: built
    from ``settings``) with any of its fields given in ``options`` on top (``top_k=3``,
    ``chunk_size=500`` ...); the other ``options`` are the ports and collaborators
    :class:`~motadata_ai.domain.retrieval.system.RAGSystem` takes (``parser``, ``reranker`` ...).
    """
    from motadata_ai.container import _rag_config
    from motadata_ai.domain.retrieval.config import RAGConfig
    from motadata_ai.domain.retrieval.system import RAGSystem

    settings = settings or Settings()
    base = config if config is not None else _rag_config(settings)
    tunables = {name: options.pop(name) for name in list(options) if name in RAGConfig.model_fields}
    if tunables:
        base = RAGConfig.model_validate({**base.model_dump(), **tunables})
    if tokenizer is None and "count_tokens" not in options:
        from motadata_ai.adapters.tokenizer import default_tokenizer

        tokenizer = default_tokenizer()
    if tokenizer is not None:
        options.setdefault("count_tokens", tokenizer.count)
    options.setdefault("conversations", documents)
    if "parser" not in options:
        from motadata_ai.adapters.parsers.files import FileDocumentParser

        options["parser"] = FileDocumentParser()
    return RAGSystem(
        gateway=gateway,
        vector_store=vector_store,
        documents=documents,
        tenant=tenant_id,
        config=base,
        **options,
    )


def create_agent(
    *,
    agent_id: str,
    name: str,
    gateway: Gateway,
    tenant_id: str | TenantContext,
    settings: Settings | None = None,
    **options: Any,
) -> Agent:
    """An agent of one tenant; limits and memory bounds default to ``settings``."""
    from motadata_ai.domain.agents.agent import Agent
    from motadata_ai.domain.values.memory import MemoryConfig

    settings = settings or Settings()
    options.setdefault("max_iterations", settings.max_iterations)
    options.setdefault("timeout", settings.agent_timeout)
    options.setdefault(
        "memory_config",
        MemoryConfig(
            max_episodic=settings.max_episodic,
            max_semantic=settings.max_semantic,
            max_age_days=settings.max_age_days,
        ),
    )
    return Agent(agent_id=agent_id, name=name, gateway=gateway, tenant=tenant_id, **options)


def create_ml_system(
    *,
    tenant_id: str | TenantContext,
    settings: Settings | None = None,
    **options: Any,
) -> MLSystem:
    """A tenant's ML system; ``max_memory_mb`` and ``enable_gpu`` default to ``settings``."""
    from motadata_ai.adapters.filesystem.code_version import detect_code_version
    from motadata_ai.domain.ml.system import MLSystem

    settings = settings or Settings()
    options.setdefault("code_version", detect_code_version())
    options.setdefault("max_memory_mb", settings.max_memory_mb)
    options.setdefault("enable_gpu", settings.enable_gpu)
    return MLSystem(tenant=tenant_id, **options)


def create_unified_query_endpoint(
    *, rag_factory: Any, agent_factory: Any, gateway: Any = None, **options: Any
) -> UnifiedQuery:
    """The unified query (auto/agent/rag/both) over per-tenant RAG and agent factories."""
    from motadata_ai.domain.routing.unified import UnifiedQuery

    return UnifiedQuery(rag_factory=rag_factory, agent_factory=agent_factory, gateway=gateway, **options)
