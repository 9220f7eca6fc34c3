"""The composition root: a dependency-injector container that builds every adapter and use-case.

Profiles (``Settings.profile``):

* ``local`` — embedded PostgreSQL + pgvector (persistent data dir), in-process cache and bus,
  local models as in-process adapters (no LiteLLM). The default: no service, no API key.
* ``services`` — PostgreSQL at ``MOTADATA_POSTGRES_DSN``, Redis at ``MOTADATA_REDIS_URL``
  (in-process cache when unset), NATS at ``MOTADATA_NATS_URL`` (in-process bus when unset).
* ``memory`` — everything in process; nothing persists.

Every provider calls a typed builder of :mod:`motadata_ai.builders` (adapters) or
:mod:`motadata_ai.use_cases` (the gateway, and :class:`~motadata_ai.use_cases.UseCases`, which
makes each tenant's RAG, agents and ML and the unified query), each configured by its section of
:class:`~motadata_ai.settings.Settings`. Async ``Resource`` providers own pools and connections;
``await container.init_resources()`` starts them and ``await container.shutdown_resources()``
stops them (``motadata_ai.connect`` does both). Tests override any provider:
``container.llm.override(providers.Object(FunctionLLM(...)))``. Adapters are imported inside the
builders, so building the container imports no vendor SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector import containers, providers

from motadata_ai import builders
from motadata_ai.settings import Settings
from motadata_ai.use_cases import UseCases, build_budgets, build_experiments, build_gateway


def _store(
    memory: Callable[[], Any], postgres: Callable[..., Any], kind: Any, database: Any
) -> providers.Selector[Any]:
    """A store provider: the in-memory builder or the PostgreSQL one (migrated), by profile."""
    return providers.Selector(
        kind,
        memory=providers.Singleton(memory),
        postgres=providers.Resource(builders.migrated, postgres, database),
    )


class Container(containers.DeclarativeContainer):
    """Builds adapters and use-cases from :class:`Settings`."""

    settings = providers.Dependency(instance_of=Settings)

    store_kind = providers.Callable(builders.store_kind, settings)
    cache_kind = providers.Callable(builders.cache_kind, settings)
    bus_kind = providers.Callable(builders.bus_kind, settings)

    telemetry = providers.Singleton(builders.telemetry, settings)
    database = providers.Resource(builders.database, settings, telemetry)
    cache = providers.Selector(
        cache_kind,
        memory=providers.Singleton(builders.memory_cache, settings),
        redis=providers.Resource(builders.redis_cache, settings),
    )
    bus = providers.Selector(
        bus_kind,
        memory=providers.Singleton(builders.memory_bus, telemetry),
        nats=providers.Resource(builders.nats_bus, settings, telemetry),
    )
    limits = providers.Singleton(builders.limits, settings, cache)
    leases = providers.Singleton(builders.leases, settings, cache)
    ingest_jobs = providers.Resource(builders.ingest_jobs, settings, bus)
    plugins = providers.Singleton(builders.plugins, settings)
    llm = providers.Singleton(builders.llm, settings, plugins)
    embeddings = providers.Singleton(builders.embeddings, settings, plugins)
    tokenizer = providers.Singleton(builders.tokenizer)
    parser = providers.Singleton(builders.parser)

    vector_store = providers.Selector(
        store_kind,
        memory=providers.Singleton(builders.memory_vector_store, settings),
        postgres=providers.Resource(
            builders.migrated, builders.postgres_vector_store, database, settings=settings
        ),
    )
    documents = _store(builders.memory_documents, builders.postgres_documents, store_kind, database)
    memory_store_plain = _store(
        builders.memory_memory_store, builders.postgres_memory_store, store_kind, database
    )
    usage_ledger = _store(builders.memory_usage_ledger, builders.postgres_usage_ledger, store_kind, database)
    audit_log = _store(builders.memory_audit_log, builders.postgres_audit_log, store_kind, database)
    audit_trail = providers.Resource(builders.audit_trail, settings, audit_log)
    data_keys = _store(builders.memory_data_keys, builders.postgres_data_keys, store_kind, database)
    encryption = providers.Singleton(builders.envelope, settings, data_keys)
    memory_store = providers.Singleton(builders.encrypted_memory_store, memory_store_plain, encryption)
    conversations = providers.Singleton(builders.encrypted_conversations, documents, encryption)
    consent_store = _store(
        builders.memory_consent_store, builders.postgres_consent_store, store_kind, database
    )
    consent = providers.Singleton(builders.consent, consent_store, memory_store, audit_trail)
    model_registry = _store(
        builders.memory_model_registry, builders.postgres_model_registry, store_kind, database
    )
    experiments = _store(builders.memory_experiments, builders.postgres_experiments, store_kind, database)
    prediction_log = _store(
        builders.memory_prediction_log, builders.postgres_prediction_log, store_kind, database
    )
    api_keys = _store(builders.memory_api_keys, builders.postgres_api_keys, store_kind, database)
    artifacts = providers.Singleton(builders.artifacts, settings)
    trainers = providers.Singleton(builders.trainers, settings)
    model_cache = providers.Singleton(builders.model_cache, settings)

    prompts = providers.Singleton(builders.prompt_registry)
    budget_alerts = providers.Singleton(builders.budget_alerts, usage_ledger, bus, audit_trail, telemetry)
    gateway = providers.Singleton(
        build_gateway,
        config=settings.provided.gateway,
        llm=llm,
        embeddings=embeddings,
        cache=providers.Callable(builders.gateway_cache, cache, limits),
        limits=limits,
        leases=leases,
        ledger=usage_ledger,
        audit=audit_log,
        telemetry=telemetry,
        audit_trail=audit_trail,
        budget_alerts=budget_alerts,
        prompts=prompts,
    )
    budgets = providers.Singleton(build_budgets, gateway=gateway, ledger=usage_ledger)
    ab_experiments = providers.Singleton(build_experiments, gateway=gateway, ledger=usage_ledger, llm=llm)
    privacy = providers.Singleton(
        builders.privacy,
        settings,
        gateway,
        documents=documents,
        conversations=conversations,
        vectors=vector_store,
        memory=memory_store,
        cache=cache,
        ledger=usage_ledger,
        audit=audit_log,
        trail=audit_trail,
        predictions=prediction_log,
        consents=consent_store,
        bus=bus,
        ingest_jobs=ingest_jobs,
    )

    usage = providers.Singleton(builders.usage, gateway, usage_ledger, llm)

    use_cases = providers.Singleton(
        UseCases,
        settings=settings,
        gateway=gateway,
        vector_store=vector_store,
        documents=documents,
        memory_store=memory_store,
        bus=bus,
        cache=cache,
        telemetry=telemetry,
        plugins=plugins,
        parser=parser,
        tokenizer=tokenizer,
        model_registry=model_registry,
        experiments=experiments,
        artifacts=artifacts,
        prediction_log=prediction_log,
        trainers=trainers.provider,
        model_cache=model_cache.provider,
        code_version=providers.Object(builders.code_version),
        audit_trail=audit_trail,
        conversations=conversations,
        consent=consent,
        ingest_jobs=ingest_jobs,
    )
