"""The whole app through the container: ``connect()`` builds, wires and stops every adapter.

The memory profile runs on in-process adapters; the services profile on the real PostgreSQL +
pgvector, Redis-protocol and NATS JetStream servers. Model calls go to scripted doubles here
(provider adapters have their own contract suites over real HTTP).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai import InvalidTenant, hookimpl
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

ARTICLES = [
    Document(
        id="kb-password",
        title="Password reset",
        text="To reset your password open the self-service portal and choose Forgot password. "
        "A reset link is sent to your registered email address.",
    ),
    Document(
        id="kb-vpn",
        title="VPN access",
        text="Install the VPN client from the software center and sign in with multi-factor authentication.",
    ),
]


def _answer_from_context(request: ChatRequest) -> str:
    """A scripted model that answers with the first passage line it was given, citing it."""
    for message in request.messages:
        for line in (message.content or "").splitlines():
            if line.startswith("[1] "):
                return f"{line[4:]} [1]"
    return "I could not find the answer in the provided context."


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


def _container(settings: Settings) -> Container:
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(_answer_from_context)))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    container.plugins.override(providers.Object(_NoPlugins()))
    return container


def _records(n: int) -> list[dict[str, Any]]:
    categories = ["network", "software", "hardware"]
    return [
        {
            "category": categories[i % 3],
            "reassignments": (i * 7) % 5,
            "made_sla": "yes" if (i % 3 != 2 and (i * 7) % 5 < 4) else "no",
        }
        for i in range(n)
    ]


async def _exercise(ai: AI) -> None:
    rag = ai.rag("acme")
    report = await rag.ingest(ARTICLES)
    assert report.created == 2 and not report.failures

    response = await ai.query("How do I reset my password?", tenant_id="acme", mode="rag")
    assert response.sources, response
    assert any(source.document_id == "kb-password" for source in response.sources)

    # Another tenant sees nothing of acme's knowledge.
    assert await ai.rag("globex").retrieve("reset password") == []

    ml = ai.ml("acme")
    schema = DatasetSchema.of("made_sla", category="categorical", reassignments="numeric")
    run = await ml.train(Dataset.from_records(_records(60), schema), model_name="sla")
    assert run.status == "finished" and run.version is not None
    await ml.promote("sla", run.version)
    prediction = await ml.predict("sla", {"category": "network", "reassignments": 1})
    assert prediction.label in {"yes", "no"}

    health = await ai.health()
    assert health.profile == ai.settings.profile


async def test_memory_profile_runs_every_use_case_in_process(tmp_path: Any) -> None:
    settings = Settings(profile="memory", data_dir=tmp_path, similarity_threshold=0.0)
    async with connect(container=_container(settings)) as ai:
        assert type(ai.port("vector_store")).__name__ == "InMemoryVectorStore"
        assert type(ai.port("cache")).__name__ == "InMemoryCache"
        assert type(ai.port("bus")).__name__ == "InMemoryBus"
        await _exercise(ai)


@pytest.fixture
async def services_container(
    tmp_path: Any, postgres_dsn: str, redis_url: str, nats_url: str
) -> AsyncIterator[Container]:
    settings = Settings(
        profile="services",
        similarity_threshold=0.0,
        data_dir=tmp_path,
        postgres_dsn=postgres_dsn,
        redis_url=redis_url,
        nats_url=nats_url,
    )
    container = _container(settings)
    async with isolated_database(postgres_dsn) as database:
        container.database.override(providers.Object(database))
        yield container


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.nats
async def test_services_profile_runs_on_real_servers(services_container: Container) -> None:
    async with connect(container=services_container) as ai:
        assert type(ai.port("vector_store")).__name__ == "PgVectorStore"
        assert type(ai.port("cache")).__name__ == "RedisCache"
        assert type(ai.port("bus")).__name__ == "NatsBus"
        assert type(ai.port("documents")).__name__ == "PostgresDocumentStore"
        assert type(ai.port("model_registry")).__name__ == "PostgresModelRegistry"
        await _exercise(ai)
        gateway = (await ai.health()).components["gateway"]
        assert gateway.details["stores"] == {"limits": "closed", "cache": "closed"}


async def test_invalid_tenant_is_refused_before_any_work(tmp_path: Any) -> None:
    settings = Settings(profile="memory", data_dir=tmp_path, similarity_threshold=0.0)
    async with connect(container=_container(settings)) as ai:
        with pytest.raises(InvalidTenant):
            ai.rag("bad tenant!")
        with pytest.raises(InvalidTenant):
            ai.ml("")
        with pytest.raises(InvalidTenant):
            await ai.query("reset my password", tenant_id="x" * 65)


async def test_services_profile_without_a_dsn_is_a_configuration_error(tmp_path: Any) -> None:
    from motadata_ai import ConfigurationError

    settings = Settings(profile="services", data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="MOTADATA_POSTGRES_DSN"):
        async with connect(container=_container(settings)):
            pass


class _VectorStorePlugin:
    """A plugin that offers an adapter for the vector store port."""

    def __init__(self) -> None:
        self.built: list[Any] = []

    @hookimpl
    def register_adapters(self, register: Any) -> None:
        def factory(**options: Any) -> Any:
            from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore

            store = InMemoryVectorStore(**options)
            self.built.append(store)
            return store

        register("vector_store", "plugin-store", factory)


def _plugin_container(settings: Settings, plugin: Any) -> Container:
    from motadata_ai.plugins.manager import PluginManager

    manager = PluginManager(allow=["builtin"])
    manager.register(plugin, name="store-plugin")
    container = _container(settings)
    container.plugins.override(providers.Object(manager))
    return container


async def test_a_port_can_use_an_adapter_registered_by_a_plugin(tmp_path: Any) -> None:
    plugin = _VectorStorePlugin()
    settings = Settings(
        profile="memory",
        data_dir=tmp_path,
        adapters={"vector_store": "plugin-store"},
        adapter_options={"vector_store": {"dimensions": 384}},
    )
    async with connect(container=_plugin_container(settings, plugin)) as ai:
        assert ai.port("vector_store") is plugin.built[0]
        assert plugin.built[0].dimensions == 384


async def test_an_unknown_plugin_adapter_names_what_is_registered(tmp_path: Any) -> None:
    from motadata_ai import ConfigurationError

    settings = Settings(profile="memory", data_dir=tmp_path, adapters={"vector_store": "nope"})
    with pytest.raises(ConfigurationError, match="plugin-store"):
        async with connect(container=_plugin_container(settings, _VectorStorePlugin())):
            pass


async def test_an_adapter_for_an_unknown_port_is_a_configuration_error(tmp_path: Any) -> None:
    from motadata_ai import ConfigurationError

    settings = Settings(profile="memory", data_dir=tmp_path, adapters={"vectorstore": "plugin-store"})
    with pytest.raises(ConfigurationError, match=r"unknown port 'vectorstore'.*vector_store"):
        async with connect(container=_plugin_container(settings, _VectorStorePlugin())):
            pass


async def test_the_builtin_litellm_embeddings_adapter_can_be_selected(tmp_path: Any) -> None:
    from motadata_ai.adapters.litellm import LiteLLMEmbeddings
    from motadata_ai.container import Container

    settings = Settings(profile="memory", data_dir=tmp_path, adapters={"embeddings": "litellm"})
    container = Container(settings=settings)
    async with connect(container=container, warm_up=False):
        assert isinstance(container.embeddings(), LiteLLMEmbeddings)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.nats
async def test_background_ingest_through_the_connected_app_reaches_a_worker(
    services_container: Container, nats_url: str
) -> None:
    from motadata_ai.adapters.nats.ingest_jobs import connect_jobs_bus
    from motadata_ai.domain.retrieval.jobs import IngestWorker

    async with connect(container=services_container) as ai:
        worker_bus = await connect_jobs_bus(nats_url)
        worker = await IngestWorker(worker_bus, ai.rag, events=ai.port("bus"), name="w1").start()
        try:
            handle = await ai.rag("acme").ingest(
                Document(id="vpn", title="VPN", text="Reconnect the VPN client after a password change."),
                background=True,
            )
            report = await handle.result(timeout=60)
        finally:
            await worker.stop()
            await worker_bus.aclose()
        assert (report.tenant_id, report.created, report.failures) == ("acme", 1, ())
        assert await ai.rag("acme").count_documents() == 1
