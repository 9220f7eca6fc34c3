"""The design document's examples (sections 3, 4.2, 6 and Appendix A.1), run as written with the
import path ``motadata_ai``: the loopback OpenAI-protocol server stands in for the paid provider
(``MOTADATA_LLM_API_BASE`` points LiteLLM at it), the session's PostgreSQL + pgvector and Valkey
servers for the database and Redis, the local MiniLM model for embeddings.

Where the document writes a call without ``await`` on what is async here (``rag.memory.retrieve``,
``db.similarity_search``, ``agent.execute_task``), the example awaits it; placeholders that are not
valid values (``agent_id="..."``) get a value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pydantic
import pytest

from motadata_ai.testing.openai_server import OpenAIServer, Reply, ToolCallReply

from ..unit.ml.conftest import SCHEMA, features_of, make_records

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_ARTICLE = ROOT / "examples" / "knowledge_base" / "password-reset.md"


@pytest.fixture
def provider(
    fresh_openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[OpenAIServer]:
    """The environment the examples run in: the provider's base URL at the loopback server."""
    monkeypatch.setenv("MOTADATA_LLM_API_BASE", fresh_openai_server.base_url)
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path / "data"))
    for name in ("MOTADATA_PROFILE", "MOTADATA_POSTGRES_DSN", "MOTADATA_REDIS_URL", "MOTADATA_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    yield fresh_openai_server


def database_parts(dsn: str) -> dict[str, Any]:
    """host/port/database/user/password of the test server's DSN (its host may be a socket dir)."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    return {
        "host": query["host"][0] if "host" in query else parts.hostname,
        "port": int(query["port"][0]) if "port" in query else parts.port or 5432,
        "database": parts.path.lstrip("/") or "postgres",
        "user": parts.username or "postgres",
        "password": parts.password or "password",
    }


def dataset() -> Any:
    from motadata_ai import Dataset

    return Dataset.from_records(make_records(120), SCHEMA)


# --- section 3: the entry points ------------------------------------------------------------------


async def test_section_3_1_the_gateway_entry_point(provider: OpenAIServer) -> None:
    from motadata_ai import GenerateResponse, create_gateway

    gateway = create_gateway(
        api_key="your-api-key",
        provider="openai",
        default_model="gpt-4",
        tenant_id="tenant_123",
    )
    try:
        response = await gateway.generate_async(prompt="Summarise INC-42")
        assert isinstance(response, GenerateResponse)
        assert response.text == "echo: Summarise INC-42"
        assert (
            response.model.endswith("gpt-4")
            and response.tokens == response.input_tokens + response.output_tokens
        )
        assert response.tokens > 0 and response.cost_usd >= 0
        assert response.metadata["tenant_id"] == "tenant_123" and response.cached is False
        request = provider.chat_requests()[-1]
        assert request.json["model"] == "gpt-4"
        assert request.headers["authorization"] == "Bearer your-api-key"
        again = await gateway.generate_async(prompt="Summarise INC-42")
        assert again.cached is True and len(provider.chat_requests()) == 1  # enable_caching defaults on

        class Triage(pydantic.BaseModel):
            priority: int
            team: str

        provider.queue(Reply(content='{"priority": 2, "team": "network"}'))
        structured = await gateway.generate_async(prompt="Triage INC-42", response_schema=Triage)
        assert structured.parsed == Triage(priority=2, team="network")
    finally:
        await gateway.aclose()


async def test_section_3_gateway_parameters_are_applied(provider: OpenAIServer) -> None:
    from motadata_ai import RateLimited, create_gateway

    gateway = create_gateway(
        api_key="k",
        provider="openai",
        default_model="gpt-4",
        tenant_id="tenant_123",
        enable_caching=False,
        cache_ttl=60,
        rate_limit_config={"requests_per_minute": 60, "burst_size": 2},
        enable_llmops=True,
        validation_level="strict",
    )
    try:
        assert gateway.policy("tenant_123").validation_level == "strict"
        await gateway.generate_async(prompt="one")
        await gateway.generate_async(prompt="one")
        assert len(provider.chat_requests()) == 2  # no caching
        with pytest.raises(RateLimited):
            await gateway.generate_async(prompt="three")  # the burst of 2 is spent
        assert len(provider.chat_requests()) == 2
    finally:
        await gateway.aclose()


async def test_sections_3_2_to_3_4_agents_rag_and_ml(provider: OpenAIServer, postgres_dsn: str) -> None:
    from motadata_ai import (
        AgentTask,
        Prediction,
        RAGResponse,
        create_agent,
        create_database_connection,
        create_gateway,
        create_ml_system,
        create_rag_system,
    )

    gateway = create_gateway(
        api_key="your-api-key", provider="openai", default_model="gpt-4", tenant_id="tenant_123"
    )
    db_connection = create_database_connection(**database_parts(postgres_dsn))
    try:
        agent = create_agent(
            agent_id="assistant_001", name="AI Assistant", gateway=gateway, tenant_id="tenant_123"
        )
        task = await agent.execute_task("Say hello")
        assert isinstance(task, AgentTask) and task.status == "completed" and task.answer == "echo: Say hello"

        rag = create_rag_system(db=db_connection, gateway=gateway, tenant_id="tenant_123", enable_memory=True)
        report = await rag.ingest(str(PASSWORD_ARTICLE))
        assert report.ok and report.tenant_id == "tenant_123"
        provider.set_default(Reply(content="Use the self-service portal. [1]"))
        answer = await rag.query("How do I reset my password?", conversation_id="c-1")
        assert isinstance(answer, RAGResponse) and answer.answered
        assert "password" in answer.cited_sources[0].title.lower()

        ml_system = create_ml_system(db=db_connection, tenant_id="tenant_123", max_memory_mb=2048)
        run = await ml_system.train(dataset(), model_name="sla")
        await ml_system.promote("sla", run.version)
        prediction = await ml_system.predict("sla", features_of(make_records(1, seed=5))[0])
        assert isinstance(prediction, Prediction) and prediction.version == run.version
    finally:
        await gateway.aclose()
        await db_connection.aclose()


# --- section 4.2: the initialisation order --------------------------------------------------------


async def test_section_4_2_example_initialization_code(
    provider: OpenAIServer, postgres_dsn: str, redis_url: str
) -> None:
    from fastapi import APIRouter, FastAPI

    from motadata_ai import (
        create_agent,
        create_cache_mechanism,
        create_database_connection,
        create_gateway,
        create_rag_system,
        create_unified_query_endpoint,
    )

    parts = database_parts(postgres_dsn)
    redis_config = {"url": redis_url}

    # 1. Database
    db = create_database_connection(
        host=parts["host"],
        port=parts["port"],
        database=parts["database"],
        user=parts["user"],
        password=parts["password"],
    )

    # 2. Cache (Optional)
    cache = create_cache_mechanism(backend="redis", config=redis_config)

    # 3. AI Gateway
    gateway = create_gateway(api_key="your-key", provider="openai", default_model="gpt-4", cache=cache)

    # 4. RAG System
    rag = create_rag_system(db=db, gateway=gateway, tenant_id="tenant_123", enable_memory=True)

    # 5. Agent Framework
    agent = create_agent(
        agent_id="assistant_001", name="AI Assistant", gateway=gateway, tenant_id="tenant_123"
    )

    # 6. Unified Query Endpoint
    agent_manager = agent
    router = APIRouter()
    create_unified_query_endpoint(router=router, agent_manager=agent_manager, rag_system=rag, gateway=gateway)

    try:
        await rag.ingest(str(PASSWORD_ARTICLE))
        app = FastAPI()
        app.include_router(router)
        operation = app.openapi()["paths"]["/query"]["post"]
        assert operation["operationId"] == "unified_query"
        assert {"404", "422", "429", "503"} <= set(operation["responses"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
            provider.set_default(Reply(content="Open the self-service portal. [1]"))
            by_rag = await http.post(
                "/query",
                json={"query": "How do I reset my password?", "tenant_id": "tenant_123", "mode": "rag"},
            )
            provider.set_default(None)
            by_agent = await http.post(
                "/query", json={"query": "Close INC-7", "tenant_id": "tenant_123", "mode": "agent"}
            )
            other = await http.post(
                "/query", json={"query": "Close INC-7", "tenant_id": "tenant_9", "mode": "agent"}
            )
        assert by_rag.status_code == 200, by_rag.text
        assert by_rag.json()["mode"] == "rag" and by_rag.json()["sources"]
        assert by_agent.status_code == 200 and by_agent.json()["answer"] == "echo: Close INC-7"
        assert (
            other.status_code == 422 and other.json()["error"]["sdk_error"] == "ValidationError"
        )  # not the agent's tenant
        # the gateway caches on Redis: the same prompt again is answered without the provider
        calls = len(provider.chat_requests())
        await gateway.generate_async(prompt="cached on redis", tenant_id="tenant_123")
        hit = await gateway.generate_async(prompt="cached on redis", tenant_id="tenant_123")
        assert hit.cached and len(provider.chat_requests()) == calls + 1
    finally:
        await gateway.aclose()
        await cache.aclose()
        await db.aclose()


# --- section 6: integration points ----------------------------------------------------------------


async def test_section_6_1_integration_patterns(provider: OpenAIServer, postgres_dsn: str) -> None:
    from motadata_ai import create_database_connection, create_gateway, create_ml_system, create_rag_system
    from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore
    from motadata_ai.functions import create_agent

    gateway = create_gateway(api_key="k", provider="openai", default_model="gpt-4", tenant_id="tenant_123")
    db = create_database_connection(**database_parts(postgres_dsn))
    tenant_id = "tenant_123"
    prompt = "What changed in INC-9?"
    query = "How do I reset my password?"
    try:
        # 6.1.1 Agents use Gateway / RAG uses Gateway for embeddings
        response = await gateway.generate_async(prompt=prompt, model="gpt-4", tenant_id=tenant_id)
        assert response.text == f"echo: {prompt}"
        embeddings = await gateway.generate_embeddings(text=query, tenant_id=tenant_id)
        assert len(embeddings) == 384 and all(isinstance(x, float) for x in embeddings)

        # 6.1.2 Agent uses Gateway, Memory and Tools
        agent = create_agent(agent_id="assistant_001", gateway=gateway, tenant_id=tenant_id)
        memory = InMemoryMemoryStore()
        agent.attach_memory(memory)
        looked_up: list[str] = []

        def tool_function(ticket_id: str) -> str:
            """Look up a ticket by its id."""
            looked_up.append(ticket_id)
            return f"{ticket_id}: VPN down since 9:00"

        agent.add_tool(tool_function)
        provider.queue(
            Reply(tool_calls=[ToolCallReply("tool_function", {"ticket_id": "INC-9"})]),
            Reply(content="VPN down."),
        )
        task = await agent.execute_task("What is INC-9 about?", user_id="u-1")
        assert task.status == "completed" and task.answer == "VPN down." and looked_up == ["INC-9"]
        assert agent.memory is not None and await memory.list_records("tenant_123", user_id="u-1")

        # 6.1.3 RAG uses Gateway and Database, and Memory for context
        rag = create_rag_system(db=db, gateway=gateway, tenant_id=tenant_id, enable_memory=True)
        await rag.ingest(str(PASSWORD_ARTICLE))
        await rag.query(query, conversation_id="c-6")
        turns = await rag.memory.retrieve(query=query, limit=5, conversation_id="c-6")
        assert [t.question for t in turns] == [query]

        # 6.1.4 ML uses Database (and the cache for predictions)
        ml_system = create_ml_system(db=db, tenant_id=tenant_id, cache=None)
        assert (await ml_system.system()).tenant_id == tenant_id
    finally:
        await gateway.aclose()
        await db.aclose()


async def test_section_6_2_backend_functions(provider: OpenAIServer, postgres_dsn: str) -> None:
    from opentelemetry import trace

    from motadata_ai import (
        KnowledgeBaseEmpty,
        chat_with_agent,
        create_agent_with_memory,
        create_database_connection,
        create_gateway,
        create_rag_system,
        quick_rag_query_async,
    )

    gateway = create_gateway(api_key="k", provider="openai", default_model="gpt-4", tenant_id="tenant_123")
    db = create_database_connection(**database_parts(postgres_dsn))
    try:
        rag = create_rag_system(db=db, gateway=gateway, tenant_id="tenant_123")
        await rag.ingest(str(PASSWORD_ARTICLE))

        # 6.2.1 AWS API Gateway -> SaaS Backend -> SDK function
        class Request:
            json = {"query": "How do I reset my password?"}
            tenant_id = "tenant_123"

        request = Request()
        result = await quick_rag_query_async(
            rag_system=rag, query=request.json["query"], tenant_id=request.tenant_id
        )
        assert result.question == "How do I reset my password?" and result.sources
        with pytest.raises(KnowledgeBaseEmpty):  # another tenant's knowledge, not this one's
            await quick_rag_query_async(rag_system=rag, query="How do I reset my password?", tenant_id="t-2")

        agent = create_agent_with_memory(
            agent_id="assistant_001", gateway=gateway, tenant_id="tenant_123", db=db
        )
        first = await chat_with_agent(agent, "My VPN is down", conversation_id="s-1")
        assert first.answer == "echo: My VPN is down"
        await chat_with_agent(agent, "Still down", conversation_id="s-1")
        sent = [m["content"] for m in provider.chat_requests()[-1].json["messages"] if m["role"] == "user"]
        assert sent[-2:] == ["My VPN is down", "Still down"]  # the session kept the first turn

        # 6.2.3 OpenTelemetry around an SDK call
        tracer = trace.get_tracer(__name__)
        tenant_id, agent_id, task = "tenant_123", "assistant_001", "Say hi"
        with tracer.start_as_current_span("agent.execute_task") as span:
            span.set_attribute("tenant_id", tenant_id)
            span.set_attribute("agent_id", agent_id)
            result_task = await agent.execute_task(task)
            span.set_attribute("task.status", result_task.status)
        assert result_task.status == "completed"
    finally:
        await gateway.aclose()
        await db.aclose()


async def test_section_6_3_database_integration(
    provider: OpenAIServer, postgres_dsn: str, tmp_path: Path
) -> None:
    from motadata_ai import create_database_connection, create_gateway, create_rag_system

    config = database_parts(postgres_dsn)
    gateway = create_gateway(api_key="k", provider="openai", default_model="gpt-4", tenant_id="tenant_63")
    db = create_database_connection(config)
    sentence = "The printers on floor three take HP-300 toner cartridges."
    article = tmp_path / "printers.md"
    article.write_text(f"# Printer toner\n\n{sentence}\n")
    try:
        rag = create_rag_system(db=db, gateway=gateway, tenant_id="tenant_63")
        await rag.ingest(str(article))
        tenant_id = "tenant_63"
        query_embedding = await gateway.generate_embeddings(
            text=f"Printer toner\n\n{sentence}", tenant_id=tenant_id
        )

        # Database connection / RAG uses database for vector search
        results = await db.similarity_search(
            embedding=query_embedding,
            table="document_embeddings",
            tenant_id=tenant_id,
            top_k=5,
            threshold=0.7,
        )
        assert results and all(hit.score >= 0.7 for hit in results)
        assert sentence in results[0].record.text
        assert await db.similarity_search(embedding=query_embedding, tenant_id="tenant_none", top_k=5) == []
        health = await db.health_check()
        assert health["status"] == "ok"
    finally:
        await gateway.aclose()
        await db.aclose()


# --- Appendix A.1: the entry points in short ------------------------------------------------------


async def test_appendix_a_1_component_entry_points(
    provider: OpenAIServer, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import APIRouter

    from motadata_ai import (
        create_agent,
        create_database_connection,
        create_gateway,
        create_ml_system,
        create_rag_system,
        create_unified_query_endpoint,
        health_check,
    )

    monkeypatch.setenv("MOTADATA_LLM_MODEL", "openai/gpt-4o-mini")  # the provider's model, configured
    db = create_database_connection(dsn=postgres_dsn)
    router = APIRouter()

    # AI Gateway
    gateway = create_gateway(api_key="...", provider="openai")
    # Agent Framework
    agent = create_agent(agent_id="assistant", gateway=gateway)
    # RAG System
    rag = create_rag_system(db=db, gateway=gateway)
    # ML Framework
    ml_system = create_ml_system(db=db)
    # Unified Query Endpoint
    agent_manager = agent
    create_unified_query_endpoint(router, agent_manager, rag, gateway)

    try:
        assert gateway.default_model == "openai/gpt-4o-mini"
        assert agent.tenant.tenant_id == rag.tenant_id == ml_system.tenant_id == "default"
        assert [route.path for route in router.routes] == ["/query"]
        assert (await agent.execute_task("ping")).answer == "echo: ping"
        health = await health_check(gateway=gateway, db=db)
        assert health["status"] == "ok" and set(health["components"]) == {"gateway", "database"}
    finally:
        await gateway.aclose()
        await db.aclose()


def test_a_provider_without_a_model_of_it_is_a_configuration_error(provider: OpenAIServer) -> None:
    from motadata_ai import ConfigurationError, create_gateway

    with pytest.raises(ConfigurationError, match="default_model"):
        create_gateway(api_key="k", provider="anthropic")
