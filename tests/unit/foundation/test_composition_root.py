"""One composition root: the container builds every use-case from one Settings, ``connect()`` only
resolves them, and the ``create_*`` factories build the same use-cases from the same sections."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from dependency_injector import providers

from motadata_ai import api
from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.api import connect
from motadata_ai.container import Container
from motadata_ai.domain.agents.agent import Agent
from motadata_ai.domain.agents.config import AgentConfig, AgentOptions
from motadata_ai.domain.agents.knowledge import knowledge_search_tool
from motadata_ai.domain.ml.config import MLConfig, MLOptions
from motadata_ai.domain.ml.system import MLSystem
from motadata_ai.domain.routing.unified import UnifiedQuery
from motadata_ai.settings import Settings
from motadata_ai.use_cases import UseCases

PACKAGE = Path(api.__file__).resolve().parent


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        profile="memory",
        data_dir=tmp_path / "data",
        llm_model="test-model",
        embedding_model="hash",
        requests_per_minute=5,
        top_k=3,
        max_iterations=4,
        agent_timeout=15,
        max_episodic=7,
        max_memory_mb=64,
        ml={"log_sample_rate": 0.5},
    )


def _container(settings: Settings) -> Container:
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    container.plugins.override(providers.Object(_NoPlugins()))
    return container


async def test_the_container_builds_every_use_case_from_one_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    container = _container(settings)
    async with connect(container=container, warm_up=False) as ai:
        use_cases = ai.use_cases
        assert isinstance(use_cases, UseCases)
        assert use_cases is await _resolved(container.use_cases())
        assert ai.gateway is use_cases.gateway
        assert ai.gateway.config is settings.gateway
        assert ai.gateway.default_model == "test-model"

        rag = ai.rag("acme")
        assert rag.config is settings.rag and rag.config.top_k == 3

        agent = ai.agent("acme")
        assert agent.config is settings.agents
        assert (agent.max_iterations, agent.timeout) == (4, 15)
        assert agent.memory_config is settings.memory and agent.memory_config.max_episodic == 7
        assert agent.memory is not None and agent.memory.store is ai.port("memory_store")
        assert "knowledge_search" in agent.tools

        ml = ai.ml("acme")
        assert ml.config is settings.ml
        assert (ml.max_memory_mb, ml.config.log_sample_rate) == (64, 0.5)
        assert ml is ai.ml("acme")  # kept per tenant

        unified = ai.unified
        assert isinstance(unified, UnifiedQuery) and unified is use_cases.unified
        assert unified.gateway is ai.gateway


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def test_options_of_one_call_override_the_section(tmp_path: Path) -> None:
    async with connect(container=_container(_settings(tmp_path)), warm_up=False) as ai:
        assert ai.rag("acme", top_k=8).config.top_k == 8
        assert ai.agent("acme", max_iterations=2).max_iterations == 2
        assert ai.ml("acme", max_memory_mb=32).max_memory_mb == 32


def test_the_create_factories_build_from_the_same_sections(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    gateway = api.create_gateway(
        llm=FunctionLLM(lambda request: "ok"), embeddings=HashEmbeddings(dimensions=64), settings=settings
    )
    assert gateway.config is settings.gateway
    rag = api.create_rag_system(
        tenant_id="acme",
        gateway=gateway,
        vector_store=InMemoryVectorStore(dimensions=64),
        documents=InMemoryDocumentStore(),
        settings=settings,
    )
    assert rag.config is settings.rag
    agent = api.create_agent(agent_id="a", name="a", gateway=gateway, tenant_id="acme", settings=settings)
    assert agent.config is settings.agents and agent.memory_config is settings.memory


# --- a default is written once --------------------------------------------------------------------


def test_the_agent_takes_its_limits_only_from_its_config() -> None:
    parameters = inspect.signature(Agent.__init__).parameters
    assert set(parameters) & set(AgentConfig.model_fields) == set()
    assert set(AgentOptions.__annotations__) == set(AgentConfig.model_fields)


def test_the_ml_system_takes_its_tunables_only_from_its_config() -> None:
    parameters = inspect.signature(MLSystem.__init__).parameters
    assert set(parameters) & set(MLConfig.model_fields) == set()
    assert set(MLOptions.__annotations__) == set(MLConfig.model_fields)


def test_the_search_tool_searches_with_the_rag_systems_top_k_by_default() -> None:
    assert inspect.signature(knowledge_search_tool).parameters["top_k"].default is None


def test_no_module_of_the_root_reads_a_private_of_the_container() -> None:
    for module in ("api.py", "use_cases.py", "builders.py"):
        tree = ast.parse((PACKAGE / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "motadata_ai.container":
                assert all(not alias.name.startswith("_") for alias in node.names), module


def test_no_adapter_is_named_by_a_dotted_string() -> None:
    for module in ("container.py", "builders.py", "use_cases.py", "api.py"):
        tree = ast.parse((PACKAGE / module).read_text())
        strings = [
            n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        assert [s for s in strings if s.startswith("motadata_ai.adapters.")] == [], module


def test_every_port_a_plugin_may_serve_is_a_provider_of_the_container() -> None:
    from motadata_ai.ports.names import ADAPTER_PORTS

    assert [port for port in ADAPTER_PORTS if port not in Container.providers] == []
