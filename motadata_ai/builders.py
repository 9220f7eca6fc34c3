"""Typed builders of every adapter, each importing its adapter lazily, for the composition root.

The container (:mod:`motadata_ai.container`) wires these functions into providers; nothing else
constructs adapters. Each builder names its adapter in an ordinary import inside the function,
so mypy and import-linter follow it and building the container imports no vendor SDK.
Stores come in pairs: an in-memory builder (``memory`` profile) and a PostgreSQL one that takes
the database and whose schema :func:`migrated` applies.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.adapters.postgres.consent import PostgresConsentStore
    from motadata_ai.adapters.postgres.data_keys import PostgresDataKeyStore
    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
    from motadata_ai.adapters.postgres.keys import PostgresKeyStore
    from motadata_ai.adapters.postgres.ledger import PostgresAuditLog, PostgresUsageLedger
    from motadata_ai.adapters.postgres.memory_store import PostgresMemoryStore
    from motadata_ai.adapters.postgres.ml import (
        PostgresExperimentStore,
        PostgresModelRegistry,
        PostgresPredictionLog,
    )
    from motadata_ai.adapters.postgres.vector_store import PgVectorStore
    from motadata_ai.domain.gateway.budget_alerts import BudgetAlerts
    from motadata_ai.domain.gateway.service import Gateway
    from motadata_ai.domain.ml.serving import ModelLRU
    from motadata_ai.domain.privacy.audit import AuditTrail
    from motadata_ai.domain.privacy.consent import Consent
    from motadata_ai.domain.privacy.encryption import Envelope
    from motadata_ai.domain.privacy.service import Privacy
    from motadata_ai.domain.prompts.templates import PromptRegistry
    from motadata_ai.domain.retrieval.jobs import IngestJobQueue
    from motadata_ai.domain.usage.service import UsageService
    from motadata_ai.plugins.manager import PluginManager
    from motadata_ai.ports.bus import BusPort
    from motadata_ai.ports.cache import CachePort
    from motadata_ai.ports.consent import ConsentStorePort
    from motadata_ai.ports.documents import DocumentParserPort, DocumentStorePort
    from motadata_ai.ports.embedding import EmbeddingPort
    from motadata_ai.ports.encryption import DataKeyStorePort
    from motadata_ai.ports.keys import KeyStorePort
    from motadata_ai.ports.leases import LeasePort
    from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
    from motadata_ai.ports.limits import LimitsPort
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


class Migrating(Protocol):
    """A PostgreSQL store whose schema migrations :meth:`setup` applies."""

    async def setup(self) -> None:
        """Apply the store's migrations."""


S = TypeVar("S", bound=Migrating)

# --- which adapter a profile uses -----------------------------------------------------------------


def store_kind(settings: Settings) -> str:
    """``memory`` or ``postgres``: where the stores live."""
    return "memory" if settings.profile == "memory" else "postgres"


def cache_kind(settings: Settings) -> str:
    """``redis`` (services profile with a URL) or ``memory``."""
    return "redis" if settings.redis_url is not None and settings.profile == "services" else "memory"


def bus_kind(settings: Settings) -> str:
    """``nats`` (services profile with a URL) or ``memory``."""
    return "nats" if settings.nats_url and settings.profile == "services" else "memory"


# --- connections ------------------------------------------------------------------------------------


async def database(
    settings: Settings, telemetry: TelemetryPort | None = None
) -> AsyncIterator[PostgresDatabase | None]:
    """The PostgreSQL pool: embedded server (local) or DSN (services); ``None`` in memory mode."""
    if settings.profile == "memory":
        yield None
        return
    from motadata_ai.adapters.postgres.database import PostgresDatabase
    from motadata_ai.adapters.postgres.search_settings import search_session_settings
    from motadata_ai.domain.values.errors import ConfigurationError

    server = None
    if settings.profile == "local":
        from motadata_ai.adapters.postgres.embedded import start_embedded_postgres

        # on a worker thread: the model loads that connect() started meanwhile keep going
        server = await asyncio.to_thread(start_embedded_postgres, settings.postgres_data_dir)
        dsn = server.dsn
    else:
        if settings.postgres_dsn is None:
            raise ConfigurationError(
                "the services profile needs MOTADATA_POSTGRES_DSN",
                setting="postgres_dsn",
                field="postgres_dsn",
            )
        dsn = settings.postgres_dsn.get_secret_value()
    try:
        pool = await PostgresDatabase.connect(
            dsn,
            min_size=settings.postgres_pool_min,
            max_size=settings.postgres_pool_max,
            read_dsns=[d.get_secret_value() for d in settings.postgres_read_dsns] if server is None else (),
            max_replica_lag=settings.postgres_max_replica_lag,
            # a search whose settings are the connections' defaults sends no SET first
            server_settings=search_session_settings(ef_search=settings.hnsw_ef_search),
        )
    except BaseException:
        if server is not None:
            server.stop()
        raise
    pool.instrument(telemetry)  # database spans inside a request's trace
    try:
        yield pool
    finally:
        await pool.close()
        if server is not None:
            server.stop()


async def redis_cache(settings: Settings) -> AsyncIterator[CachePort]:
    """The Redis/Valkey cache (or Redis Cluster) at ``redis_url``, behind an in-process L1 with
    ``cache_l1`` (invalidated on every instance by Redis pub/sub); closed on shutdown."""
    from motadata_ai.adapters.redis.cache import RedisCache

    assert settings.redis_url is not None
    cache: Any = RedisCache.from_url(settings.redis_url.get_secret_value(), timeout=settings.redis_timeout)
    if settings.cache_l1:
        from motadata_ai.adapters.memory.cache import InMemoryCache
        from motadata_ai.adapters.tiered import RedisInvalidations, TieredCache

        l1 = InMemoryCache(max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)
        cache = TieredCache(cache, l1=l1, l1_ttl=settings.cache_l1_ttl, channel=RedisInvalidations(cache))
    try:
        yield cache
    finally:
        await cache.aclose()


async def nats_bus(settings: Settings, telemetry: TelemetryPort | None = None) -> AsyncIterator[BusPort]:
    """The NATS JetStream bus at ``nats_url``, closed on shutdown."""
    from motadata_ai.adapters.nats.bus import NatsBus

    assert settings.nats_url is not None
    bus = await NatsBus.connect(
        settings.nats_url.get_secret_value(), telemetry=telemetry, replicas=settings.nats_replicas
    )
    try:
        yield bus
    finally:
        await bus.aclose()


def memory_cache(settings: Settings) -> CachePort:
    """The in-process LRU cache, bounded by ``cache_max_entries`` and ``cache_max_bytes``."""
    from motadata_ai.adapters.memory.cache import InMemoryCache

    return InMemoryCache(max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)


def memory_bus(telemetry: TelemetryPort | None = None) -> BusPort:
    """The in-process bus."""
    from motadata_ai.adapters.memory.bus import InMemoryBus

    return InMemoryBus(telemetry=telemetry)


def limits(settings: Settings, cache: Any) -> LimitsPort:
    """Shared token buckets and breaker state: on Redis when the cache is Redis (behind a circuit,
    in process per ``gateway.limits_failure_policy`` while it is open), else in process."""
    if cache_kind(settings) == "redis":
        from motadata_ai.adapters.redis.limits import RedisLimits
        from motadata_ai.domain.gateway.fallback_limits import FallbackLimits

        shared = getattr(cache, "l2", cache)  # a tiered cache's Redis tier
        redis = RedisLimits(shared.client, address=shared.address)
        return FallbackLimits(redis, policy=settings.gateway.limits_failure_policy)
    from motadata_ai.adapters.memory.limits import InMemoryLimits

    return InMemoryLimits()


def leases(settings: Settings, cache: Any) -> LeasePort | None:
    """The lease store of the cross-instance de-duplication: on the cache's Redis (its pool) when
    the cache is Redis; none otherwise (one process de-duplicates in process)."""
    if cache_kind(settings) != "redis":
        return None
    from motadata_ai.adapters.redis.leases import RedisLeases

    shared = getattr(cache, "l2", cache)  # a tiered cache's Redis tier
    return RedisLeases(shared.client, address=shared.address, namespace=shared.namespace)


def gateway_cache(cache: CachePort, limits: LimitsPort) -> CachePort:
    """The gateway's cache: when the cache and the limits share one Redis server, behind the
    limits' circuit, so one open circuit spares both the socket."""
    from motadata_ai.domain.gateway.circuit_cache import CircuitCache
    from motadata_ai.domain.gateway.fallback_limits import FallbackLimits

    if isinstance(limits, FallbackLimits):
        return CircuitCache(cache, circuit=limits.circuit)
    return cache


def telemetry(settings: Settings) -> TelemetryPort:
    """OpenTelemetry tracing (OTLP endpoint and/or console)."""
    from motadata_ai.adapters.otel.telemetry import OtelTelemetry

    return OtelTelemetry(otlp_endpoint=settings.otel_exporter_otlp_endpoint, console=settings.otel_console)


def plugins(settings: Settings) -> PluginManager:
    """The plugin manager with the allowed plugins loaded."""
    from motadata_ai.plugins.manager import PluginManager

    manager = PluginManager(allow=settings.plugins_allow)
    manager.load()
    return manager


# --- models -----------------------------------------------------------------------------------------


def _provider_options(settings: Settings) -> dict[str, Any]:
    """Server, key and timeout of the LiteLLM adapters (a gateway without a request timeout
    leaves the adapter's own per-call limit)."""
    options: dict[str, Any] = {
        "api_base": settings.llm_api_base,
        "api_key": settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        "probe_server": settings.llm_health_probe == "request",
    }
    if settings.gateway.request_timeout is not None:
        options["timeout"] = settings.gateway.request_timeout
    return options


def litellm_chat(settings: Settings, plugins: PluginManager) -> LLMPort:
    """Chat through LiteLLM (with the plugins' providers installed)."""
    from motadata_ai.adapters.litellm import LiteLLMChat, load_litellm

    plugins.install_providers()
    load_litellm()  # built on first use of a remote model (or at warm-up, on a worker thread)
    return LiteLLMChat(**_provider_options(settings))


def litellm_embeddings(settings: Settings, plugins: PluginManager) -> EmbeddingPort:
    """Embeddings through LiteLLM (with the plugins' providers installed)."""
    from motadata_ai.adapters.litellm import LiteLLMEmbeddings, load_litellm

    plugins.install_providers()
    load_litellm()
    return LiteLLMEmbeddings(
        **_provider_options(settings),
        dimensions={settings.gateway.default_embedding_model: settings.embedding_dimensions},
    )


def llm(settings: Settings, plugins: PluginManager) -> LLMPort:
    """Models with a plugin's in-process adapter (``local/...``) go to it; the rest to LiteLLM."""
    from motadata_ai.adapters.routing import ModelRoutedChat

    return ModelRoutedChat(
        plugins.model_adapters("llm"), default=functools.partial(litellm_chat, settings, plugins)
    )


def embeddings(settings: Settings, plugins: PluginManager) -> EmbeddingPort:
    """Like :func:`llm`, for embeddings."""
    from motadata_ai.adapters.routing import ModelRoutedEmbeddings

    return ModelRoutedEmbeddings(
        plugins.model_adapters("embeddings"), default=functools.partial(litellm_embeddings, settings, plugins)
    )


def tokenizer() -> TokenizerPort:
    """tiktoken when its encoding loads offline, else the approximation."""
    from motadata_ai.adapters.tokenizer import default_tokenizer

    return default_tokenizer()


def parser() -> DocumentParserPort:
    """The file parser of every supported format."""
    from motadata_ai.adapters.parsers.files import FileDocumentParser

    return FileDocumentParser()


# --- stores -----------------------------------------------------------------------------------------


async def migrated(build: Callable[..., S], database: PostgresDatabase, **options: Any) -> AsyncIterator[S]:
    """A PostgreSQL store built by ``build`` with its schema migrations applied."""
    store = build(database, **options)
    await store.setup()
    yield store


def memory_vector_store(settings: Settings) -> VectorStorePort:
    """The in-process vector store."""
    from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore

    return InMemoryVectorStore(dimensions=settings.embedding_dimensions)


def postgres_vector_store(database: PostgresDatabase, settings: Settings) -> PgVectorStore:
    """pgvector with the HNSW and storage settings."""
    from motadata_ai.adapters.postgres.vector_store import PgVectorStore

    return PgVectorStore(
        database,
        dimensions=settings.embedding_dimensions,
        storage=settings.vector_storage,
        m=settings.hnsw_m,
        ef_construction=settings.hnsw_ef_construction,
        ef_search=settings.hnsw_ef_search,
        exact_search_below=settings.vector_exact_search_below,
        recall_target=settings.hnsw_recall_target or None,
        recall_probes=settings.hnsw_recall_probes,
    )


def memory_documents() -> DocumentStorePort:
    """Documents and conversations in process."""
    from motadata_ai.adapters.memory.documents import InMemoryDocumentStore

    return InMemoryDocumentStore()


def postgres_documents(database: PostgresDatabase) -> PostgresDocumentStore:
    """Documents and conversations on PostgreSQL."""
    from motadata_ai.adapters.postgres.documents import PostgresDocumentStore

    return PostgresDocumentStore(database)


def memory_memory_store() -> MemoryStorePort:
    """Agents' memories, sessions and checkpoints in process."""
    from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore

    return InMemoryMemoryStore()


def postgres_memory_store(database: PostgresDatabase) -> PostgresMemoryStore:
    """Agents' memories, sessions and checkpoints on PostgreSQL."""
    from motadata_ai.adapters.postgres.memory_store import PostgresMemoryStore

    return PostgresMemoryStore(database)


def memory_usage_ledger() -> UsageLedgerPort:
    """The usage and cost ledger in process."""
    from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger

    return InMemoryUsageLedger()


def postgres_usage_ledger(database: PostgresDatabase) -> PostgresUsageLedger:
    """The usage and cost ledger on PostgreSQL."""
    from motadata_ai.adapters.postgres.ledger import PostgresUsageLedger

    return PostgresUsageLedger(database)


def usage(gateway: Gateway, ledger: UsageLedgerPort, llm: LLMPort) -> UsageService:
    """The usage use-case (``ai.usage``): reports and recommendations over the ledger, with the
    gateway's pending records flushed first, the tenants' fallback models and the models' prices."""
    from motadata_ai.domain.usage.service import UsageService

    def price_of(model: str) -> float:  # a reference call: 1,000 tokens in and 1,000 out
        custom = gateway.config.model_prices.get(model)
        if custom is not None:
            return custom.cost(1000, 1000)
        try:
            return llm.cost_usd(model, 1000, 1000)
        except Exception:  # an unknown model has no price
            return 0.0

    return UsageService(
        ledger,
        flush=gateway.flush,
        fallbacks_of=lambda tenant_id: gateway.policy(tenant_id).fallback_models,
        price_of=price_of,
    )


def memory_audit_log() -> AuditLogPort:
    """The gateway's audit log in process."""
    from motadata_ai.adapters.memory.ledger import InMemoryAuditLog

    return InMemoryAuditLog()


def postgres_audit_log(database: PostgresDatabase) -> PostgresAuditLog:
    """The gateway's audit log on PostgreSQL."""
    from motadata_ai.adapters.postgres.ledger import PostgresAuditLog

    return PostgresAuditLog(database)


def memory_model_registry() -> ModelRegistryPort:
    """The model registry in process."""
    from motadata_ai.adapters.memory.ml import InMemoryModelRegistry

    return InMemoryModelRegistry()


def postgres_model_registry(database: PostgresDatabase) -> PostgresModelRegistry:
    """The model registry on PostgreSQL."""
    from motadata_ai.adapters.postgres.ml import PostgresModelRegistry

    return PostgresModelRegistry(database)


def memory_experiments() -> ExperimentStorePort:
    """Training runs in process."""
    from motadata_ai.adapters.memory.ml import InMemoryExperimentStore

    return InMemoryExperimentStore()


def postgres_experiments(database: PostgresDatabase) -> PostgresExperimentStore:
    """Training runs on PostgreSQL."""
    from motadata_ai.adapters.postgres.ml import PostgresExperimentStore

    return PostgresExperimentStore(database)


def memory_prediction_log() -> PredictionLogPort:
    """Sampled predictions in process."""
    from motadata_ai.adapters.memory.ml import InMemoryPredictionLog

    return InMemoryPredictionLog()


def postgres_prediction_log(database: PostgresDatabase) -> PostgresPredictionLog:
    """Sampled predictions on PostgreSQL."""
    from motadata_ai.adapters.postgres.ml import PostgresPredictionLog

    return PostgresPredictionLog(database)


def memory_api_keys() -> KeyStorePort:
    """Virtual API keys (hashed) in process."""
    from motadata_ai.adapters.memory.keys import InMemoryKeyStore

    return InMemoryKeyStore()


def postgres_api_keys(database: PostgresDatabase) -> PostgresKeyStore:
    """Virtual API keys (hashed) on PostgreSQL."""
    from motadata_ai.adapters.postgres.keys import PostgresKeyStore

    return PostgresKeyStore(database)


def artifacts(settings: Settings) -> ArtifactStorePort:
    """Model artifacts: in process (memory profile) or under ``data_dir/artifacts``."""
    if settings.profile == "memory":
        from motadata_ai.adapters.memory.ml import InMemoryArtifactStore

        return InMemoryArtifactStore()
    from motadata_ai.adapters.filesystem.artifacts import FilesystemArtifactStore

    return FilesystemArtifactStore(settings.artifacts_dir)


def trainers(settings: Settings) -> dict[str, TrainerPort]:
    """The scikit-learn and PyTorch trainers (skops' trusted-type names cached under the data
    directory, so loading a model skips scikit-learn's estimator scan)."""
    from motadata_ai.adapters.sklearn.skops_import import estimator_cache_dir
    from motadata_ai.adapters.sklearn.trainer import SklearnTrainer
    from motadata_ai.adapters.torch.trainer import TorchTrainer

    cache_dir = estimator_cache_dir(settings.data_dir)
    return {"sklearn": SklearnTrainer(cache_dir=cache_dir), "torch": TorchTrainer()}


def model_cache(settings: Settings) -> ModelLRU[TrainedModel]:
    """One loaded-model LRU for every tenant of the process, bounded by ``ml.max_memory_mb``."""
    from motadata_ai.domain.ml.serving import ModelLRU

    return ModelLRU(max_bytes=int(settings.ml.max_memory_mb * 1024 * 1024))


def code_version() -> str:
    """The version of the code that trains models (git commit when in a checkout)."""
    from motadata_ai.adapters.filesystem.code_version import detect_code_version

    return detect_code_version()


# --- privacy: consent, data keys, encryption, the audit trail, the use-case ----------------------


def memory_consent_store() -> ConsentStorePort:
    """Consents in process."""
    from motadata_ai.adapters.memory.consent import InMemoryConsentStore

    return InMemoryConsentStore()


def postgres_consent_store(database: PostgresDatabase) -> PostgresConsentStore:
    """Consents on PostgreSQL."""
    from motadata_ai.adapters.postgres.consent import PostgresConsentStore

    return PostgresConsentStore(database)


def memory_data_keys() -> DataKeyStorePort:
    """Wrapped per-tenant data keys in process."""
    from motadata_ai.adapters.memory.data_keys import InMemoryDataKeyStore

    return InMemoryDataKeyStore()


def postgres_data_keys(database: PostgresDatabase) -> PostgresDataKeyStore:
    """Wrapped per-tenant data keys on PostgreSQL."""
    from motadata_ai.adapters.postgres.data_keys import PostgresDataKeyStore

    return PostgresDataKeyStore(database)


def envelope(settings: Settings, data_keys: DataKeyStorePort) -> Envelope:
    """Envelope encryption with the wrapping keys of ``privacy.encryption_keys`` (off, but able
    to say that a key is missing, when none is set)."""
    from motadata_ai.adapters.crypto.aesgcm import AesGcmCipher, SettingsKeyProvider
    from motadata_ai.domain.privacy.encryption import Envelope

    configured = {k: v.get_secret_value() for k, v in settings.privacy.encryption_keys.items()}
    provider = SettingsKeyProvider(configured, current_id=settings.privacy.encryption_current_key)
    return Envelope(keys=provider, data_keys=data_keys, cipher=AesGcmCipher(), enabled=bool(configured))


def encrypted_memory_store(plain: MemoryStorePort, encryption: Envelope) -> MemoryStorePort:
    """The memory store with memories, sessions and checkpoints encrypted (when a key is set)."""
    from motadata_ai.domain.privacy.encryption import EncryptedMemoryStore

    return EncryptedMemoryStore(plain, encryption)


def encrypted_conversations(documents: Any, encryption: Envelope) -> Any:
    """RAG conversation turns, encrypted (when a key is set), in the document store."""
    from motadata_ai.domain.privacy.encryption import EncryptedConversationStore

    return EncryptedConversationStore(documents, encryption)


def current_trace_id() -> str | None:
    """The trace id of the current OpenTelemetry span (for audit events), if any."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


async def audit_trail(settings: Settings, audit_log: AuditLogPort) -> AsyncIterator[AuditTrail | None]:
    """The buffered audit trail over the audit log (``None`` when ``privacy.audit`` is off);
    flushed on shutdown."""
    if not settings.privacy.audit:
        yield None
        return
    from motadata_ai.domain.privacy.audit import AuditTrail

    trail = AuditTrail(audit_log, max_pending=settings.privacy.audit_max_pending, trace_id=current_trace_id)
    try:
        yield trail
    finally:
        await trail.aclose()


def consent(store: ConsentStorePort, memory: MemoryStorePort, trail: AuditTrail | None) -> Consent:
    """Consent per tenant, user and purpose (revoking ``memory`` erases the user's memories)."""
    from motadata_ai.domain.privacy.consent import Consent

    return Consent(store, memory=memory, trail=trail)


def privacy(
    settings: Settings,
    gateway: Gateway,
    *,
    bus: BusPort | None = None,
    ingest_jobs: IngestJobQueue | None = None,
    **stores: Any,
) -> Privacy:
    """The privacy use-case over every store of the app (the buses: the app's and the ingestion
    jobs', whose retained messages of a user erasure purges)."""
    from motadata_ai.domain.privacy.service import Privacy

    key = settings.privacy.pseudonym_key
    buses = [b for b in (bus, ingest_jobs.jobs_bus if ingest_jobs is not None else None) if b is not None]
    return Privacy(
        buses=buses,
        before_pseudonymising=(gateway.flush,),
        forget_cached=gateway.forget_cached,
        pseudonym_key=key.get_secret_value().encode() if key is not None else None,
        retention=settings.privacy.retention_for,
        **stores,
    )


async def ingest_jobs(settings: Settings, bus: BusPort) -> AsyncIterator[IngestJobQueue | None]:
    """The queue of background ingestion jobs on a JetStream work-queue stream (``None`` without
    NATS: ``rag.ingest(..., background=True)`` then says it needs it); closed on shutdown."""
    if bus_kind(settings) != "nats":
        yield None
        return
    from motadata_ai.adapters.nats.ingest_jobs import connect_jobs_bus
    from motadata_ai.domain.retrieval.jobs import IngestJobQueue

    assert settings.nats_url is not None
    jobs = await connect_jobs_bus(settings.nats_url.get_secret_value(), replicas=settings.nats_replicas)
    try:
        yield IngestJobQueue(jobs, events=bus)
    finally:
        await jobs.aclose()


# --- LLMOps: budget alerts, prompt templates ------------------------------------------------------


def budget_alerts(
    ledger: UsageLedgerPort, bus: BusPort, trail: AuditTrail | None, telemetry: TelemetryPort
) -> BudgetAlerts:
    """Budget alerts claimed in the ledger, sent on the bus, to the audit trail (when
    ``privacy.audit`` is on) and as a metric."""
    from motadata_ai.domain.gateway.budget_alerts import BudgetAlerts

    return BudgetAlerts(
        ledger=ledger, bus=bus, audit=trail.add if trail is not None else None, telemetry=telemetry
    )


def prompt_registry() -> PromptRegistry:
    """The app's prompt templates (versions the gateway renders and experiments compare)."""
    from motadata_ai.domain.prompts.templates import PromptRegistry

    return PromptRegistry()
