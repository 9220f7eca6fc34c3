"""The public entry points: ``connect()`` for a whole app, and the ``create_*`` factories.

``async with motadata_ai.connect() as ai:`` builds every adapter and use-case from
:class:`Settings` through the container (the composition root), starts what needs starting (the
embedded PostgreSQL on the ``local`` profile, pools, connections) and stops it all on exit.
``ai.gateway``, ``ai.rag(tenant)``, ``ai.agent(tenant)``, ``ai.ml(tenant)`` and ``ai.query(...)``
are the use-cases, resolved from the container's :class:`~motadata_ai.use_cases.UseCases`.

The ``create_*`` factories mirror the familiar function style for code that holds an ``AI``
(or its parts) already: each takes ``tenant_id`` and keyword options and calls the same builders
(:mod:`motadata_ai.use_cases`) with the same settings sections.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.settings import Settings
from motadata_ai.use_cases import DEFAULT_AGENT_ID, DEFAULT_AGENT_NAME

if TYPE_CHECKING:
    from motadata_ai.container import Container
    from motadata_ai.domain.agents.agent import Agent
    from motadata_ai.domain.gateway.config import TenantPolicy
    from motadata_ai.domain.gateway.service import Gateway
    from motadata_ai.domain.llmops.budgets import Budgets
    from motadata_ai.domain.llmops.experiments import Experiments
    from motadata_ai.domain.ml.system import MLSystem
    from motadata_ai.domain.privacy.audit import AuditTrail
    from motadata_ai.domain.privacy.consent import Consent
    from motadata_ai.domain.privacy.service import Privacy
    from motadata_ai.domain.retrieval.config import RAGConfig
    from motadata_ai.domain.retrieval.system import RAGSystem
    from motadata_ai.domain.routing.unified import UnifiedQuery, UnifiedResponse
    from motadata_ai.domain.usage.service import UsageService
    from motadata_ai.domain.values.health import HealthReport
    from motadata_ai.use_cases import UseCases

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
    "motadata_ai.use_cases",
)


async def _resolve(value: Any) -> Any:
    """Providers with async dependencies return awaitables; plain ones return the object."""
    return await value if inspect.isawaitable(value) else value


class AI:
    """A connected SDK: the gateway, and per-tenant RAG, agents and ML over shared adapters.

    Every use-case comes from the container's :class:`~motadata_ai.use_cases.UseCases`.
    """

    def __init__(self, container: Container, ports: dict[str, Any]) -> None:
        self.container = container
        self.settings: Settings = container.settings()
        self._ports = ports
        self.use_cases: UseCases = ports["use_cases"]
        self.gateway: Gateway = self.use_cases.gateway
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
    def usage(self) -> UsageService:
        """LLMOps over the usage ledger: ``report(tenant_id=..., since=..., until=...,
        group_by=...)``, ``recommendations(tenant_id=...)``, ``records(...)`` and ``ledger``."""
        return self._ports["usage"]  # type: ignore[no-any-return]

    @property
    def budgets(self) -> Budgets:
        """Tenants' budgets and their alerts: ``set``, ``get``, ``alerts``, ``on_alert``."""
        return self._ports["budgets"]  # type: ignore[no-any-return]

    @property
    def experiments(self) -> Experiments:
        """A/B experiments of models and prompt versions: ``set``, ``get``, ``remove``, ``compare``;
        ``ai.experiments.prompts`` is the prompt registry (``ai.port("experiments")`` is the ML
        training-run store)."""
        return self._ports["ab_experiments"]  # type: ignore[no-any-return]

    @property
    def consent(self) -> Consent:
        """Per tenant, user and purpose: ``grant``, ``revoke``, ``check``."""
        return self._ports["consent"]  # type: ignore[no-any-return]

    @property
    def audit_trail(self) -> AuditTrail | None:
        """The buffered audit trail (``None`` with ``privacy.audit`` off); ``await
        ai.audit_trail.flush()`` writes what is pending, ``ai.port("audit_log")`` reads it."""
        return self._ports.get("audit_trail")

    async def set_tenant_policy(
        self, *, tenant_id: str, policy: TenantPolicy | None, user_id: str | None = None
    ) -> None:
        """Override (with ``None``: reset) one tenant's gateway policy, audited as
        ``config.tenant_policy`` (``user_id``: who changed it)."""
        await self.use_cases.set_tenant_policy(tenant_id=tenant_id, policy=policy, user_id=user_id)

    def rag(self, tenant_id: str, **options: Any) -> RAGSystem:
        """The tenant's RAG system; ``options`` override ``settings.rag``."""
        return self.use_cases.rag(tenant_id, **options)

    def agent(
        self,
        tenant_id: str,
        *,
        agent_id: str = DEFAULT_AGENT_ID,
        name: str = DEFAULT_AGENT_NAME,
        tools: Iterable[Any] | None = None,
        knowledge: bool = True,
        **options: Any,
    ) -> Agent:
        """An agent of the tenant with the ``knowledge_search`` tool (over the tenant's RAG) and
        every tool registered by plugins, unless ``tools`` is given; ``options`` override
        ``settings.agents``."""
        return self.use_cases.agent(
            tenant_id, agent_id=agent_id, name=name, tools=tools, knowledge=knowledge, **options
        )

    def ml(self, tenant_id: str, **options: Any) -> MLSystem:
        """The tenant's ML system. Every tenant's system shares one loaded-model LRU bounded by
        ``settings.ml.max_memory_mb`` (unless ``max_memory_mb`` is passed here); without
        ``options`` the system is kept and returned again."""
        return self.use_cases.ml(tenant_id, **options)

    @property
    def unified(self) -> UnifiedQuery:
        """The unified query endpoint over this app's RAG and agents."""
        return self.use_cases.unified

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

    async def health(self, *, timeout: float = 2.0) -> HealthReport:
        """The health of every component in use (see :mod:`motadata_ai.health`): each adapter's
        status from a real probe, its latency and details, the gateway's breakers, the models."""
        from motadata_ai.health import health_report

        return await health_report(self, timeout=timeout)


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
    "use_cases",
    "limits",
    "api_keys",
    "consent_store",
    "consent",
    "conversations",
    "encryption",
    "usage_ledger",
    "audit_log",
    "audit_trail",
    "privacy",
    "usage",
    "budgets",
    "ab_experiments",
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
    models = {"llm": settings.gateway.default_model, "embeddings": settings.gateway.default_embedding_model}
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
WARM_CONNECTIONS = 6
"""Pooled connections opened at start-up (at most the pool's maximum): the first request after
start-up opened five (searches, ledger, audit log, conversation) and paid their starts."""


async def _warm_search(container: Container, vector_store: Any) -> None:
    """One dense and one keyword search, concurrently, for a tenant with no data: opens the pool's
    connections and prepares the statements, so the first real query does not pay for them."""
    settings: Settings = container.settings()
    tenant = TenantContext(tenant_id=WARM_UP_TENANT)
    try:
        database = getattr(vector_store, "database", None)
        if hasattr(database, "open_connections"):  # a PostgreSQL store: a request's connections
            await database.open_connections(WARM_CONNECTIONS)
            await database.prepare_statements(await _hot_statements(container))
        await _prepare_instruments(container)
        await asyncio.gather(
            vector_store.dense_search(tenant, (0.0,) * (settings.embedding_dimensions - 1) + (1.0,), top_k=1),
            vector_store.keyword_search(tenant, "warm up", top_k=1),
            _warm_tokenizer(container),
        )
    except Exception as error:  # a store that is down reports it on the first real call
        log.warning("the start-up search failed: %s", error)


_HOT_STATEMENT_PORTS = ("vector_store", "usage_ledger", "audit_log")
"""The stores whose statements every query runs: the searches, the usage ledger, the audit log."""

REQUEST_INSTRUMENTS: tuple[tuple[str, str], ...] = (
    ("gen_ai.client.operation.duration", "s"),
    ("gen_ai.client.token.usage", "{token}"),
    ("motadata.rag.query.duration", "s"),
    ("motadata.rag.hits", "{hit}"),
)
"""The histograms (name, unit) a query records, created at start-up rather than by the first."""
REQUEST_COUNTERS = (
    "motadata.gateway.cache.hits",
    "motadata.gateway.cache.misses",
    "motadata.gateway.guardrail.events",
    "motadata.rag.empty_results",
)
"""The counters a query adds to, created at start-up rather than by the first."""


async def _hot_statements(container: Container) -> list[Any]:
    """The statements of :data:`_HOT_STATEMENT_PORTS` that run on the shared pool (probed, where
    they read, for :data:`WARM_UP_TENANT`, which holds no data)."""
    statements: list[Any] = []
    for name in _HOT_STATEMENT_PORTS:
        adapter = await _resolve(getattr(container, name)())
        if hasattr(adapter, "hot_statements"):
            statements.extend(adapter.hot_statements(WARM_UP_TENANT))
    return statements


async def _prepare_instruments(container: Container) -> None:
    telemetry = await _resolve(container.telemetry())
    if hasattr(telemetry, "prepare_instruments"):
        telemetry.prepare_instruments(histograms=REQUEST_INSTRUMENTS, counters=REQUEST_COUNTERS)


async def _warm_tokenizer(container: Container) -> None:
    """Load the tokenizer's encoding (answers size their context with it) on a worker thread."""
    tokenizer = await _resolve(container.tokenizer())
    if hasattr(tokenizer, "warm_up"):
        await asyncio.to_thread(tokenizer.warm_up)


def _warming_message(settings: Settings, ports: tuple[str, ...]) -> str:
    if "embeddings" in ports and settings.gateway.default_embedding_model.startswith("local/"):
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
    in-process cache, limits and ledger unless given in ``ports``; its configuration is
    ``settings.gateway`` unless ``config`` is given. ``tenant_id`` is validated here and then
    passed per call (one gateway serves every tenant)."""
    from motadata_ai import builders
    from motadata_ai.use_cases import build_gateway

    if tenant_id is not None:
        validate_tenant_id(tenant_id)
    settings = settings or Settings()
    if llm is None or embeddings is None:
        plugins = builders.plugins(settings)
        llm = llm or builders.llm(settings, plugins)
        embeddings = embeddings or builders.embeddings(settings, plugins)
    ports.setdefault("config", settings.gateway)
    ports.setdefault("cache", builders.memory_cache(settings))
    return build_gateway(llm=llm, embeddings=embeddings, **ports)


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

    Its :class:`~motadata_ai.domain.retrieval.config.RAGConfig` is ``config`` (default:
    ``settings.rag``) with any of its fields given in ``options`` on top (``top_k=3``,
    ``chunk_size=500`` ...); the other ``options`` are the ports and collaborators
    :class:`~motadata_ai.domain.retrieval.system.RAGSystem` takes (``parser``, ``reranker`` ...).
    """
    from motadata_ai.use_cases import build_rag_system

    base = config if config is not None else (settings or Settings()).rag
    return build_rag_system(
        config=base,
        tenant=tenant_id,
        gateway=gateway,
        vector_store=vector_store,
        documents=documents,
        tokenizer=tokenizer,
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
    """An agent of one tenant; its limits are ``settings.agents`` and its memory bounds
    ``settings.memory``, with any field given in ``options`` on top."""
    from motadata_ai.use_cases import build_agent

    settings = settings or Settings()
    return build_agent(
        config=settings.agents,
        memory_config=settings.memory,
        agent_id=agent_id,
        name=name,
        gateway=gateway,
        tenant=tenant_id,
        **options,
    )


def create_ml_system(
    *,
    tenant_id: str | TenantContext,
    settings: Settings | None = None,
    **options: Any,
) -> MLSystem:
    """A tenant's ML system configured by ``settings.ml``, with any field given in ``options``
    on top (``max_memory_mb=512``)."""
    from motadata_ai.use_cases import build_ml_system

    settings = settings or Settings()
    return build_ml_system(config=settings.ml, tenant=tenant_id, **options)


def create_unified_query_endpoint(
    *, rag_factory: Any, agent_factory: Any, gateway: Any = None, **options: Any
) -> UnifiedQuery:
    """The unified query (auto/agent/rag/both) over per-tenant RAG and agent factories."""
    from motadata_ai.use_cases import build_unified_query

    return build_unified_query(
        rag_factory=rag_factory, agent_factory=agent_factory, gateway=gateway, **options
    )
