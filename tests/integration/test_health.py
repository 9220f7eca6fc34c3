"""``ai.health()`` names every component in use with a real probe; ``GET /health`` is liveness and
``GET /ready`` readiness; ``motadata-ai health`` prints the report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.api import AI, connect
from motadata_ai.cli.health import health as health_command
from motadata_ai.container import Container
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.health import PROBED_PORTS
from motadata_ai.http import create_app
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

EVERY_COMPONENT = {*PROBED_PORTS, "gateway", "models", "ml_serving", "telemetry"}


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


def _container(settings: Settings) -> Container:
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    container.plugins.override(providers.Object(_NoPlugins()))
    return container


@pytest.fixture
async def memory_app(tmp_path: Any) -> AsyncIterator[AI]:
    async with connect(
        container=_container(Settings(profile="memory", data_dir=tmp_path)), warm_up=False
    ) as ai:
        yield ai


async def test_the_report_names_every_component_of_the_memory_profile(memory_app: AI) -> None:
    report = await memory_app.health()
    assert set(report.components) == EVERY_COMPONENT
    assert report.status == "ok" and report.ready and report.profile == "memory"
    assert report.components["vector_store"].details["adapter"] == "InMemoryVectorStore"
    assert report.components["vector_store"].details["probe"] == "in-process"
    assert report.components["gateway"].details["breakers"] == {}


async def test_the_model_ports_and_the_limits_store_answer_probes_of_their_own(memory_app: AI) -> None:
    report = await memory_app.health()
    adapters = {name: report.components[name].details["adapter"] for name in ("llm", "embeddings", "limits")}
    assert adapters == {"llm": "FunctionLLM", "embeddings": "HashEmbeddings", "limits": "InMemoryLimits"}
    for name in ("llm", "embeddings", "limits"):
        assert report.components[name].status == "ok"
        assert report.components[name].details["probe"] == "in-process"


async def test_the_container_s_routed_models_report_each_built_route(tmp_path: Any) -> None:
    settings = Settings(profile="memory", data_dir=tmp_path)
    container = Container(settings=settings)
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    async with connect(container=container, warm_up=False) as ai:
        await ai.gateway.generate(
            ChatRequest(model="local/extractive", messages=(Message(role="user", content="hi"),)),
            tenant_id="acme",
        )
        report = await ai.health()
    llm = report.components["llm"]
    assert llm.status == "ok" and llm.details["adapter"] == "ModelRoutedChat"
    assert llm.details["routes"]["local"]["details"]["probe"] == "in-process"
    assert "default" not in llm.details["routes"]  # LiteLLM is never built for a local model


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.nats
async def test_the_report_probes_every_real_server_of_the_services_profile(
    tmp_path: Any, postgres_dsn: str, redis_url: str, nats_url: str
) -> None:
    settings = Settings(
        profile="services",
        data_dir=tmp_path,
        postgres_dsn=postgres_dsn,
        redis_url=redis_url,
        nats_url=nats_url,
    )
    container = _container(settings)
    async with isolated_database(postgres_dsn) as database:
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=False) as ai:
            report = await ai.health()
    assert set(report.components) == EVERY_COMPONENT and report.status == "ok" and report.ready
    adapters = {name: c.details.get("adapter") for name, c in report.components.items()}
    assert adapters["vector_store"] == "PgVectorStore" and adapters["documents"] == "PostgresDocumentStore"
    assert adapters["cache"] == "RedisCache" and adapters["bus"] == "NatsBus"
    probes = {
        name: report.components[name].details["probe"] for name in ("vector_store", "cache", "bus", "limits")
    }
    assert probes == {"vector_store": "select 1", "cache": "ping", "bus": "flush", "limits": "ping"}
    assert adapters["limits"] == "RedisLimits" and report.components["limits"].details["circuit"] == "closed"
    assert report.components["vector_store"].details["pool_max"] >= 1
    assert all(c.latency_ms >= 0 for c in report.components.values())


async def test_ready_answers_the_report_and_health_is_liveness(memory_app: AI) -> None:
    transport = httpx.ASGITransport(app=create_app(memory_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        live, ready = await http.get("/health"), await http.get("/ready")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and set(body["components"]) == EVERY_COMPONENT


async def test_ready_is_503_until_the_models_are_loaded(memory_app: AI) -> None:
    import asyncio

    loading: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    memory_app._warm_up = loading  # start-up work still running
    transport = httpx.ASGITransport(app=create_app(memory_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        starting = await http.get("/ready")
        loading.set_result(None)
        ready = await http.get("/ready")
    assert starting.status_code == 503
    assert starting.json()["components"]["models"]["status"] == "down"
    assert ready.status_code == 200


def test_the_health_command_prints_the_report(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTADATA_PROFILE", "memory")
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    as_json = runner.invoke(health_command, ["--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["ready"] is True and set(report["components"]) == EVERY_COMPONENT
    as_text = runner.invoke(health_command, [])
    assert as_text.exit_code == 0, as_text.output
    first, *rest = as_text.stdout.splitlines()
    assert first == "status ok · ready yes · profile memory"
    assert {line.split()[0] for line in rest} == EVERY_COMPONENT



@pytest.mark.parametrize("timeout", [0, -1.0, None, "2", float("nan"), float("inf"), True])
async def test_a_timeout_that_is_not_a_positive_number_is_refused(memory_app: AI, timeout: Any) -> None:
    # before, each probe failed on it inside its own timer, and the report said every component down
    with pytest.raises(ValidationError):
        await memory_app.health(timeout=timeout)
