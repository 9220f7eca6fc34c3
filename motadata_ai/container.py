"""The composition root: a dependency-injector container that builds every adapter from settings.

Profiles (``Settings.profile``):

* ``local`` — embedded PostgreSQL + pgvector (persistent data dir), in-process cache and bus,
  local models through LiteLLM custom providers. The default: no service, no API key.
* ``services`` — PostgreSQL at ``MOTADATA_POSTGRES_DSN``, Redis at ``MOTADATA_REDIS_URL``
  (in-process cache when unset), NATS at ``MOTADATA_NATS_URL`` (in-process bus when unset).
* ``memory`` — everything in process; nothing persists.

Async ``Resource`` providers own pools and connections; ``await container.init_resources()``
starts them and ``await container.shutdown_resources()`` stops them (``motadata_ai.connect`` does
both). Tests override any provider: ``container.llm.override(providers.Object(FunctionLLM(...)))``.
Adapters are imported inside the builders, so building the container imports no vendor SDK.
"""

from __future__ import annotations

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
    from motadata_ai.domain.values.errors import ConfigurationError

    server = None
    if settings.profile == "local":
        from motadata_ai.adapters.postgres.embedded import start_embedded_postgres

        server = start_embedded_postgres(settings.postgres_data_dir)
        dsn = server.dsn
    else:
        if settings.postgres_dsn is None:
            raise ConfigurationError(
                "the services profile needs MOTADATA_POSTGRES_DSN", field="postgres_dsn"
            )
        dsn = settings.postgres_dsn.get_secret_value()
    try:
        database = await PostgresDatabase.connect(
            dsn, min_size=settings.postgres_pool_min, max_size=settings.postgres_pool_max
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
    cache = RedisCache.from_url(settings.redis_url.get_secret_value())
    try:
        yield cache
    finally:
        await cache.aclose()


async def _nats_bus(settings: Settings) -> AsyncIterator[Any]:
    from motadata_ai.adapters.nats.bus import NatsBus

    assert settings.nats_url is not None
    bus = await NatsBus.connect(settings.nats_url)
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


def _telemetry(settings: Settings) -> Any:
    from motadata_ai.adapters.otel.telemetry import OtelTelemetry

    return OtelTelemetry(
        otlp_endpoint=settings.otel_exporter_otlp_endpoint, console=settings.otel_console
    )


def _plugins(settings: Settings) -> Any:
    from motadata_ai.plugins.manager import PluginManager

    manager = PluginManager(allow=settings.plugins_allow)
    manager.load()
    return manager


def _llm(settings: Settings, plugins: Any) -> Any:
    from motadata_ai.adapters.litellm.chat import LiteLLMChat

    plugins.install_litellm_providers()
    return LiteLLMChat(
        api_base=settings.llm_api_base,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        timeout=settings.request_timeout,
    )


def _embeddings(settings: Settings, plugins: Any) -> Any:
    from motadata_ai.adapters.litellm.embeddings import LiteLLMEmbeddings

    plugins.install_litellm_providers()
    return LiteLLMEmbeddings(
        api_base=settings.llm_api_base,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        timeout=settings.request_timeout,
    )


async def _pg_store(factory_path: str, database: Any, **kwargs: Any) -> AsyncIterator[Any]:
    """Build a PostgreSQL store and run its migrations (``setup()``) once."""
    module_name, _, class_name = factory_path.rpartition(".")
    import importlib

    store = getattr(importlib.import_module(module_name), class_name)(database, **kwargs)
    await store.setup()
    yield store


def _memory_store(factory_path: str, **kwargs: Any) -> Any:
    module_name, _, class_name = factory_path.rpartition(".")
    import importlib

    return getattr(importlib.import_module(module_name), class_name)(**kwargs)


# --- the container ------------------------------------------------------------------------------


class Container(containers.DeclarativeContainer):
    """Builds adapters and use-cases from :class:`Settings`."""

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
    telemetry = providers.Singleton(_telemetry, settings)
    plugins = providers.Singleton(_plugins, settings)
    llm = providers.Singleton(_llm, settings, plugins)
    embeddings = providers.Singleton(_embeddings, settings, plugins)

    vector_store = providers.Selector(
        store_kind,
        memory=providers.Singleton(
            _memory_store,
            "motadata_ai.adapters.memory.vector_store.InMemoryVectorStore",
            dimensions=settings.provided.embedding_dimensions,
        ),
        postgres=providers.Resource(
            _pg_store,
            "motadata_ai.adapters.postgres.vector_store.PgVectorStore",
            database,
            dimensions=settings.provided.embedding_dimensions,
        ),
    )
