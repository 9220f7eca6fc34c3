"""The use-cases of an app built from one :class:`~motadata_ai.settings.Settings`: gateway, RAG,
agents, ML and the unified query.

Each ``build_*`` function builds one use-case from its configuration section, passed whole, and
its ports; :class:`UseCases` holds the adapters the container built and makes each tenant's
use-cases with them. The container provides one :class:`UseCases` (``container.use_cases``);
``motadata_ai.connect()`` resolves it and the ``create_*`` factories call the builders, so every
path builds a use-case the same way, from the same defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.domain.agents.agent import Agent
    from motadata_ai.domain.agents.config import AgentConfig
    from motadata_ai.domain.gateway.config import GatewayConfig, TenantPolicy
    from motadata_ai.domain.gateway.service import Gateway
    from motadata_ai.domain.llmops.budgets import Budgets
    from motadata_ai.domain.llmops.experiments import Experiments
    from motadata_ai.domain.ml.config import MLConfig
    from motadata_ai.domain.ml.serving import ModelLRU
    from motadata_ai.domain.ml.system import MLSystem
    from motadata_ai.domain.privacy.audit import AuditTrail
    from motadata_ai.domain.privacy.consent import Consent
    from motadata_ai.domain.retrieval.config import RAGConfig
    from motadata_ai.domain.retrieval.jobs import IngestJobQueue
    from motadata_ai.domain.retrieval.system import RAGSystem
    from motadata_ai.domain.routing.unified import UnifiedQuery
    from motadata_ai.domain.values.memory import MemoryConfig
    from motadata_ai.plugins.manager import PluginManager
    from motadata_ai.ports.bus import BusPort
    from motadata_ai.ports.cache import CachePort
    from motadata_ai.ports.documents import DocumentParserPort
    from motadata_ai.ports.embedding import EmbeddingPort
    from motadata_ai.ports.ledger import UsageLedgerPort
    from motadata_ai.ports.llm import LLMPort
    from motadata_ai.ports.memory import MemoryStorePort
    from motadata_ai.ports.ml import (
        ArtifactStorePort,
        ExperimentStorePort,
        ModelRegistryPort,
        PredictionLogPort,
        TrainedModel,
        TrainerPort,
    )
    from motadata_ai.ports.telemetry import TelemetryPort
    from motadata_ai.ports.text import TokenizerPort
    from motadata_ai.ports.vector_store import VectorStorePort

__all__ = [
    "UseCases",
    "build_agent",
    "build_budgets",
    "build_experiments",
    "build_gateway",
    "build_ml_system",
    "build_rag_system",
    "build_unified_query",
]

DEFAULT_AGENT_ID = "assistant"
"""The id of the app's agent (``ai.agent(tenant)``) unless one is given."""
DEFAULT_AGENT_NAME = "ITSM assistant"
"""The name of the app's agent unless one is given."""


def build_gateway(*, config: GatewayConfig, llm: LLMPort, embeddings: EmbeddingPort, **ports: Any) -> Gateway:
    """The gateway with ``config`` over ``llm`` and ``embeddings`` (and the optional ``ports``:
    ``cache``, ``limits``, ``ledger``, ``audit``, ``telemetry`` ...)."""
    from motadata_ai.domain.gateway.service import Gateway

    trail = ports.pop("audit_trail", None)
    if trail is not None:  # one gateway.generate / gateway.embed audit event per call
        ports.setdefault("feedback_hook", trail.gateway_call)
        ports.setdefault("on_policy_change", trail.tenant_policy_changed)  # one per policy change
    return Gateway(llm=llm, embeddings=embeddings, config=config, **ports)


def build_budgets(*, gateway: Gateway, ledger: UsageLedgerPort | None = None) -> Budgets:
    """``ai.budgets``: the tenants' budgets on ``gateway`` and their alerts in ``ledger``."""
    from motadata_ai.domain.llmops.budgets import Budgets

    return Budgets(gateway, ledger)


def build_experiments(
    *, gateway: Gateway, ledger: UsageLedgerPort | None = None, llm: LLMPort | None = None
) -> Experiments:
    """``ai.experiments`` over ``gateway``'s prompt registry and ``ledger``; the models of the
    configured experiments are checked now (a model ``llm`` has a price for is known)."""
    from motadata_ai.domain.llmops.experiments import Experiments

    def priced(model: str) -> bool:
        try:
            return llm is not None and llm.cost_usd(model, 1000, 1000) > 0
        except Exception:  # an adapter that cannot price the model does not know it
            return False

    experiments = Experiments(gateway, ledger, priced=priced)
    experiments.check_configured()
    return experiments


def build_rag_system(
    *,
    config: RAGConfig,
    tenant: str | TenantContext,
    gateway: Gateway,
    vector_store: VectorStorePort,
    documents: Any,
    tokenizer: TokenizerPort | None = None,
    **options: Any,
) -> RAGSystem:
    """A tenant's RAG system: ``config`` with any of its fields given in ``options`` on top
    (``top_k=3``); the other ``options`` are :class:`RAGSystem`'s ports and collaborators
    (``parser``, ``reranker`` ...). Without a tokenizer or parser, the default ones are built."""
    from motadata_ai.domain.retrieval.config import RAGConfig
    from motadata_ai.domain.retrieval.system import RAGSystem

    tunables = {name: options.pop(name) for name in list(options) if name in RAGConfig.model_fields}
    if tunables:
        config = RAGConfig.model_validate({**dict(config), **tunables})
    if tokenizer is None and "count_tokens" not in options:
        from motadata_ai import builders

        tokenizer = builders.tokenizer()
    if tokenizer is not None:
        options.setdefault("count_tokens", tokenizer.count)
    options.setdefault("conversations", documents)
    if options.get("parser") is None:
        from motadata_ai import builders

        options["parser"] = builders.parser()
    return RAGSystem(
        gateway=gateway,
        vector_store=vector_store,
        documents=documents,
        tenant=tenant,
        config=config,
        **options,
    )


def build_agent(
    *,
    config: AgentConfig,
    memory_config: MemoryConfig,
    agent_id: str,
    name: str,
    gateway: Gateway,
    tenant: str | TenantContext,
    **options: Any,
) -> Agent:
    """An agent of one tenant with ``config`` (fields given in ``options`` on top) and
    ``memory_config``; the other ``options`` are :class:`Agent`'s (``tools``, ``memory`` ...)."""
    from motadata_ai.domain.agents.agent import Agent

    return Agent(
        agent_id=agent_id,
        name=name,
        gateway=gateway,
        tenant=tenant,
        config=config,
        memory_config=options.pop("memory_config", None) or memory_config,
        **options,
    )


def build_ml_system(
    *,
    config: MLConfig,
    tenant: str | TenantContext,
    code_version: Callable[[], str] | None = None,
    **options: Any,
) -> MLSystem:
    """A tenant's ML system with ``config`` (fields given in ``options`` on top); the other
    ``options`` are :class:`MLSystem`'s ports. ``code_version`` tells the version runs record."""
    from motadata_ai.domain.ml.tracing import TracedMLSystem

    if "code_version" not in options:
        from motadata_ai import builders

        options["code_version"] = (code_version or builders.code_version)()
    return TracedMLSystem(tenant=tenant, config=config, **options)


def build_unified_query(
    *, rag_factory: Any, agent_factory: Any, gateway: Any = None, **options: Any
) -> UnifiedQuery:
    """The unified query (auto/agent/rag/both) over per-tenant RAG and agent factories."""
    from motadata_ai.domain.routing.unified import UnifiedQuery

    return UnifiedQuery(rag_factory=rag_factory, agent_factory=agent_factory, gateway=gateway, **options)


class UseCases:
    """Every use-case of one app over the adapters the container built.

    The gateway and the unified query are one per app; RAG systems and agents are made per call
    (they are cheap: the adapters are shared); each tenant's ML system is kept (with the
    process-wide loaded-model LRU) unless options are given.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        gateway: Gateway,
        vector_store: VectorStorePort,
        documents: Any,
        memory_store: MemoryStorePort,
        bus: BusPort,
        cache: CachePort,
        telemetry: TelemetryPort,
        plugins: PluginManager,
        parser: DocumentParserPort,
        tokenizer: TokenizerPort,
        model_registry: ModelRegistryPort,
        experiments: ExperimentStorePort,
        artifacts: ArtifactStorePort,
        prediction_log: PredictionLogPort,
        trainers: Callable[[], dict[str, TrainerPort]],
        model_cache: Callable[[], ModelLRU[TrainedModel]],
        code_version: Callable[[], str],
        audit_trail: AuditTrail | None = None,
        conversations: Any = None,
        consent: Consent | None = None,
        ingest_jobs: IngestJobQueue | None = None,
    ) -> None:
        self.settings = settings
        self.gateway = gateway
        self.vector_store = vector_store
        self.documents = documents
        self.memory_store = memory_store
        self.bus = bus
        self.cache = cache
        self.telemetry = telemetry
        self.plugins = plugins
        self.parser = parser
        self.tokenizer = tokenizer
        self.model_registry = model_registry
        self.experiments = experiments
        self.artifacts = artifacts
        self.prediction_log = prediction_log
        self._trainers = trainers  # built on first use: importing scikit-learn and PyTorch is slow
        self._model_cache = model_cache
        self._code_version = code_version
        self.audit_trail = audit_trail
        self.conversations = conversations
        self.consent = consent
        self.ingest_jobs = ingest_jobs
        self._ml_systems: dict[str, MLSystem] = {}
        self._unified: UnifiedQuery | None = None

    def rag(self, tenant_id: str, **options: Any) -> RAGSystem:
        """The tenant's RAG system; ``options`` override ``settings.rag`` (see :func:`build_rag_system`)."""
        options.setdefault("parser", self.parser)
        options.setdefault("telemetry", self.telemetry)
        if self.conversations is not None:
            options.setdefault("conversations", self.conversations)
        if self.ingest_jobs is not None:
            options.setdefault("jobs", self.ingest_jobs)
        options.setdefault("audit_trail", self.audit_trail)
        return build_rag_system(
            config=self.settings.rag,
            tenant=tenant_id,
            gateway=self.gateway,
            vector_store=self.vector_store,
            documents=self.documents,
            tokenizer=self.tokenizer,
            **options,
        )

    async def set_tenant_policy(
        self, *, tenant_id: str, policy: TenantPolicy | None, user_id: str | None = None
    ) -> None:
        """Override (with ``None``: reset) the tenant's gateway policy at run time, recording one
        ``config.tenant_policy`` audit event: resource the tenant, metadata the names of the fields
        that changed (never their values) and whether the policy was reset. The gateway's policy
        hook records it (see :func:`build_gateway`), so a change made on the gateway directly is
        audited the same way."""
        self.gateway.set_tenant_policy(validate_tenant_id(tenant_id), policy, user_id=user_id)

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
        """An agent of the tenant with the knowledge-search tool (over the tenant's RAG) and every
        tool registered by plugins, unless ``tools`` is given; ``options`` override ``settings.agents``."""
        from motadata_ai.domain.agents.knowledge import knowledge_search_tool
        from motadata_ai.domain.agents.tools import tool_list

        chosen = tool_list(tools) if tools is not None else list(self.plugins.tools().values())
        if knowledge:
            chosen.append(knowledge_search_tool(self.rag(tenant_id)))
        options.setdefault("memory", self.memory_store)
        options.setdefault("bus", self.bus)
        options.setdefault("telemetry", self.telemetry)
        options.setdefault("audit_trail", self.audit_trail)
        agent = build_agent(
            config=self.settings.agents,
            memory_config=self.settings.memory,
            agent_id=agent_id,
            name=name,
            gateway=self.gateway,
            tenant=tenant_id,
            tools=chosen,
            **options,
        )
        if self.consent is not None and self.settings.privacy.memory_requires_consent and agent.memory:
            agent.memory.consent = self.consent.checker("memory")
        return agent

    def ml(self, tenant_id: str, **options: Any) -> MLSystem:
        """The tenant's ML system. Every tenant's system shares one loaded-model LRU bounded by
        ``settings.ml.max_memory_mb`` (unless ``max_memory_mb`` is passed here); without
        ``options`` the system is kept and returned again."""
        tenant_id = validate_tenant_id(tenant_id)
        keep = not options
        if keep and tenant_id in self._ml_systems:
            return self._ml_systems[tenant_id]
        if "max_memory_mb" not in options:
            options.setdefault("model_cache", self._model_cache())
        options.setdefault("audit_trail", self.audit_trail)
        if self.consent is not None and "training_consent" not in options:
            from motadata_ai.domain.privacy.training_consent import TrainingConsent

            options["training_consent"] = TrainingConsent(
                self.consent.checker("training"),  # type: ignore[arg-type]
                without_consent=self.settings.privacy.training_without_consent,
            )
        system = build_ml_system(
            config=self.settings.ml,
            tenant=tenant_id,
            code_version=self._code_version,
            registry=self.model_registry,
            experiments=self.experiments,
            artifacts=self.artifacts,
            prediction_log=self.prediction_log,
            trainers=self._trainers(),
            cache=self.cache,
            bus=self.bus,
            telemetry=self.telemetry,
            **options,
        )
        if keep:
            self._ml_systems[tenant_id] = system
        return system

    @property
    def model_cache(self) -> ModelLRU[TrainedModel]:
        """The process-wide loaded-model LRU that every tenant's ML system shares."""
        return self._model_cache()

    @property
    def unified(self) -> UnifiedQuery:
        """The unified query endpoint over this app's RAG and agents."""
        if self._unified is None:
            self._unified = build_unified_query(
                rag_factory=self.rag, agent_factory=self.agent, gateway=self.gateway, telemetry=self.telemetry
            )
        return self._unified
