"""The composition root: a dependency-injector container that builds every adapter from settings.

Profiles (``Settings.profile``):

* ``local`` — embedded PostgreSQL + pgvector (persistent data dir), in-process cache and bus,
  local models as in-process adapters (no LiteLLM). The default: no service, no API key.
* ``services`` — PostgreSQL at ``MOTADATA_POSTGRES_DSN``, Redis at ``MOTADATA_REDIS_URL``
  (in-process cache when unset), NATS at ``MOTADATA_NATS_URL`` (in-process bus when unset).
* ``memory`` — everything in process; nothing persists.

Async ``Resource`` providers own pools and connections; ``await container.init_resources()``
starts them and ``await container.shutdown_resources()`` stops them (``motadata_ai.connect`` does
both). Tests override any provider: ``container.llm.override(providers.Object(FunctionLLM(...)))``.
Adapters are imported inside the builders, so building the container imports no vendor SDK.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import AsyncIterator
from typing import Any

from dependency_injector import containers, providers

from motadata_ai.settings import Settings

# --- builders: each imports its adapter lazily --------------------------------------------------


def _store_kind(settings: Settings) -> str:
    return "memory" if settings.profile == "memory" else "postgres"


def _cache_kind(settings: Settings) -> str:
    return "redis" if settings.redis_url is not None and settings.profile == "services" else "memory"


def _bus_kind(settings: Settings) -> str:
    return "nats" if settings.nats_url and settings.profile == "services" else "memory"


async def _database(settings: Settings) -> AsyncIterator[Any]:
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
            raise ConfigurationError("the services profile needs MOTADATA_POSTGRES_DSN", field="postgres_dsn")
        dsn = settings.postgres_dsn.get_secret_value()
    try:
        database = await PostgresDatabase.connect(
            dsn,
            min_size=settings.postgres_pool_min,
            max_size=settings.postgres_pool_max,
            # a search whose settings are the connections' defaults sends no SET first
            server_settings=search_session_settings(ef_search=settings.hnsw_ef_search),
        )
    except BaseException:
        if server is not None:
            server.stop()
        raise
    try:
        yield database
    finally:
        await database.close()
        if server is not None:
            server.stop()


async def _redis_cache(settings: Settings) -> AsyncIterator[Any]:
    from motadata_ai.adapters.redis.cache import RedisCache

    assert settings.redis_url is not None
    cache = RedisCache.from_url(settings.redis_url.get_secret_value(), timeout=settings.redis_timeout)
    try:
        yield cache
    finally:
        await cache.aclose()


async def _nats_bus(settings: Settings) -> AsyncIterator[Any]:
    from motadata_ai.adapters.nats.bus import NatsBus

    assert settings.nats_url is not None
    bus = await NatsBus.connect(settings.nats_url.get_secret_value())
    try:
        yield bus
    finally:
        await bus.aclose()


def _memory_cache(settings: Settings) -> Any:
    from motadata_ai.adapters.memory.cache import InMemoryCache

    return InMemoryCache(max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)


def _memory_bus() -> Any:
    from motadata_ai.adapters.memory.bus import InMemoryBus

    return InMemoryBus()


def _limits(settings: Settings, cache: Any) -> Any:
    """Shared token buckets and breaker state: on Redis when the cache is Redis (behind a circuit,
    in process per ``limits_failure_policy`` while it is open), else in process."""
    if _cache_kind(settings) == "redis":
        from motadata_ai.adapters.redis.limits import RedisLimits
        from motadata_ai.domain.gateway.fallback_limits import FallbackLimits

        redis = RedisLimits(cache.client, address=cache.address)
        return FallbackLimits(redis, policy=settings.limits_failure_policy)
    from motadata_ai.adapters.memory.limits import InMemoryLimits

    return InMemoryLimits()


def _telemetry(settings: Settings) -> Any:
    from motadata_ai.adapters.otel.telemetry import OtelTelemetry

    return OtelTelemetry(otlp_endpoint=settings.otel_exporter_otlp_endpoint, console=settings.otel_console)


def _plugins(settings: Settings) -> Any:
    from motadata_ai.plugins.manager import PluginManager

    manager = PluginManager(allow=settings.plugins_allow)
    manager.load()
    return manager


def _api_key(settings: Settings) -> str | None:
    return settings.llm_api_key.get_secret_value() if settings.llm_api_key else None


def _litellm_chat(settings: Settings, plugins: Any) -> Any:
    from motadata_ai.adapters.litellm import LiteLLMChat, load_litellm

    plugins.install_providers()
    load_litellm()  # built on first use of a remote model (or at warm-up, on a worker thread)
    return LiteLLMChat(
        api_base=settings.llm_api_base, api_key=_api_key(settings), timeout=settings.request_timeout
    )


def _litellm_embeddings(settings: Settings, plugins: Any) -> Any:
    from motadata_ai.adapters.litellm import LiteLLMEmbeddings, load_litellm

    plugins.install_providers()
    load_litellm()
    return LiteLLMEmbeddings(
        api_base=settings.llm_api_base,
        api_key=_api_key(settings),
        timeout=settings.request_timeout,
        dimensions={settings.embedding_model: settings.embedding_dimensions},
    )


def _llm(settings: Settings, plugins: Any) -> Any:
    """Models with a plugin's in-process adapter (``local/...``) go to it; the rest to LiteLLM."""
    from motadata_ai.adapters.routing import ModelRoutedChat

    return ModelRoutedChat(
        plugins.model_adapters("llm"), default=functools.partial(_litellm_chat, settings, plugins)
    )


def _embeddings(settings: Settings, plugins: Any) -> Any:
    """Like :func:`_llm`, for embeddings."""
    from motadata_ai.adapters.routing import ModelRoutedEmbeddings

    return ModelRoutedEmbeddings(
        plugins.model_adapters("embeddings"),
        default=functools.partial(_litellm_embeddings, settings, plugins),
    )


def _gateway_config(settings: Settings) -> Any:
    from motadata_ai.domain.gateway.config import GatewayConfig

    return GatewayConfig(
        default_model=settings.llm_model,
        default_embedding_model=settings.embedding_model,
        fallback_models=tuple(settings.fallback_models),
        request_timeout=settings.request_timeout,
        enable_caching=settings.enable_caching,
        cache_ttl=settings.cache_ttl,
        requests_per_minute=settings.requests_per_minute,
        burst_size=settings.burst_size,
        tokens_per_minute=settings.tokens_per_minute,
        max_retries=settings.max_retries,
        circuit_failure_threshold=settings.circuit_failure_threshold,
        circuit_recovery_timeout=settings.circuit_recovery_timeout,
        validation_level=settings.validation_level,
        request_deduplication=settings.request_deduplication,
        semantic_cache=settings.semantic_cache,
        daily_budget_usd=settings.daily_budget_usd,
        monthly_budget_usd=settings.monthly_budget_usd,
        limits_failure_policy=settings.limits_failure_policy,
    )


def _rag_config(settings: Settings) -> Any:
    from motadata_ai.domain.retrieval.config import RAGConfig

    return RAGConfig(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        top_k=settings.top_k,
        similarity_threshold=settings.similarity_threshold,
        enable_query_rewriting=settings.enable_query_rewriting,
        enable_reranking=settings.enable_reranking,
        max_document_bytes=settings.max_document_bytes,
        parsing=settings.parsing,
    )


def _gateway(**ports: Any) -> Any:
    from motadata_ai.domain.gateway.circuit_cache import CircuitCache
    from motadata_ai.domain.gateway.fallback_limits import FallbackLimits
    from motadata_ai.domain.gateway.service import Gateway

    if isinstance(ports.get("limits"), FallbackLimits) and ports.get("cache") is not None:
        # the cache and the limits share one Redis server: one circuit spares both the socket
        ports["cache"] = CircuitCache(ports["cache"], circuit=ports["limits"].circuit)
    return Gateway(**ports)


def _instance(path: str, *args: Any, **kwargs: Any) -> Any:
    """Build ``path`` (``module.Class``), importing its module on first use."""
    module_name, _, class_name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)(*args, **kwargs)


async def _migrated(path: str, database: Any, **kwargs: Any) -> AsyncIterator[Any]:
    """A PostgreSQL store with its schema migrations applied."""
    store = _instance(path, database, **kwargs)
    await store.setup()
    yield store


def _store(memory: str, postgres: str, kind: Any, database: Any, **kwargs: Any) -> providers.Selector:
    """A store provider: the in-memory adapter or the PostgreSQL one, by profile."""
    return providers.Selector(
        kind,
        memory=providers.Singleton(_instance, memory, **kwargs),
        postgres=providers.Resource(_migrated, postgres, database, **kwargs),
    )


def _artifacts(settings: Settings) -> Any:
    if settings.profile == "memory":
        return _instance("motadata_ai.adapters.memory.ml.InMemoryArtifactStore")
    return _instance(
        "motadata_ai.adapters.filesystem.artifacts.FilesystemArtifactStore", settings.artifacts_dir
    )


def _trainers(settings: Settings) -> dict[str, Any]:
    from motadata_ai.adapters.sklearn.skops_import import estimator_cache_dir
    from motadata_ai.adapters.sklearn.trainer import SklearnTrainer
    from motadata_ai.adapters.torch.trainer import TorchTrainer

    cache_dir = estimator_cache_dir(settings.data_dir)
    return {"sklearn": SklearnTrainer(cache_dir=cache_dir), "torch": TorchTrainer()}


def _tokenizer() -> Any:
    from motadata_ai.adapters.tokenizer import default_tokenizer

    return default_tokenizer()


def _parser() -> Any:
    return _instance("motadata_ai.adapters.parsers.files.FileDocumentParser")


# --- the container ------------------------------------------------------------------------------


class Container(containers.DeclarativeContainer):
    """Builds adapters and use-case collaborators from :class:`Settings`."""

    settings = providers.Dependency(instance_of=Settings)

    store_kind = providers.Callable(_store_kind, settings)
    cache_kind = providers.Callable(_cache_kind, settings)
    bus_kind = providers.Callable(_bus_kind, settings)

    database = providers.Resource(_database, settings)
    cache = providers.Selector(
        cache_kind,
        memory=providers.Singleton(_memory_cache, settings),
        redis=providers.Resource(_redis_cache, settings),
    )
    bus = providers.Selector(
        bus_kind,
        memory=providers.Singleton(_memory_bus),
        nats=providers.Resource(_nats_bus, settings),
    )
    limits = providers.Singleton(_limits, settings, cache)
    telemetry = providers.Singleton(_telemetry, settings)
    plugins = providers.Singleton(_plugins, settings)
    llm = providers.Singleton(_llm, settings, plugins)
    embeddings = providers.Singleton(_embeddings, settings, plugins)
    tokenizer = providers.Singleton(_tokenizer)
    parser = providers.Singleton(_parser)

    vector_store = providers.Selector(
        store_kind,
        memory=providers.Singleton(
            _instance,
            "motadata_ai.adapters.memory.vector_store.InMemoryVectorStore",
            dimensions=settings.provided.embedding_dimensions,
        ),
        postgres=providers.Resource(
            _migrated,
            "motadata_ai.adapters.postgres.vector_store.PgVectorStore",
            database,
            dimensions=settings.provided.embedding_dimensions,
            storage=settings.provided.vector_storage,
            m=settings.provided.hnsw_m,
            ef_construction=settings.provided.hnsw_ef_construction,
            ef_search=settings.provided.hnsw_ef_search,
            exact_search_below=settings.provided.vector_exact_search_below,
        ),
    )
    documents = _store(
        "motadata_ai.adapters.memory.documents.InMemoryDocumentStore",
        "motadata_ai.adapters.postgres.documents.PostgresDocumentStore",
        store_kind,
        database,
    )
    memory_store = _store(
        "motadata_ai.adapters.memory.memory_store.InMemoryMemoryStore",
        "motadata_ai.adapters.postgres.memory_store.PostgresMemoryStore",
        store_kind,
        database,
    )
    usage_ledger = _store(
        "motadata_ai.adapters.memory.ledger.InMemoryUsageLedger",
        "motadata_ai.adapters.postgres.ledger.PostgresUsageLedger",
        store_kind,
        database,
    )
    audit_log = _store(
        "motadata_ai.adapters.memory.ledger.InMemoryAuditLog",
        "motadata_ai.adapters.postgres.ledger.PostgresAuditLog",
        store_kind,
        database,
    )
    model_registry = _store(
        "motadata_ai.adapters.memory.ml.InMemoryModelRegistry",
        "motadata_ai.adapters.postgres.ml.PostgresModelRegistry",
        store_kind,
        database,
    )
    experiments = _store(
        "motadata_ai.adapters.memory.ml.InMemoryExperimentStore",
        "motadata_ai.adapters.postgres.ml.PostgresExperimentStore",
        store_kind,
        database,
    )
    prediction_log = _store(
        "motadata_ai.adapters.memory.ml.InMemoryPredictionLog",
        "motadata_ai.adapters.postgres.ml.PostgresPredictionLog",
        store_kind,
        database,
    )
    artifacts = providers.Singleton(_artifacts, settings)
    trainers = providers.Singleton(_trainers, settings)

    gateway_config = providers.Singleton(_gateway_config, settings)
    gateway = providers.Singleton(
        _gateway,
        llm=llm,
        embeddings=embeddings,
        config=gateway_config,
        cache=cache,
        limits=limits,
        ledger=usage_ledger,
        audit=audit_log,
        telemetry=telemetry,
    )
