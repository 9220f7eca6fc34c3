"""The FastAPI router of the unified query: request validation, answers, error mapping, OpenAPI."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from motadata_ai.cli import agents as agents_cli
from motadata_ai.cli import parse
from motadata_ai.cli._group import arguments
from motadata_ai.domain.routing import UnifiedQuery
from motadata_ai.domain.values.documents import RAGResponse
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.http import create_app, create_router


class Rag:
    async def query(
        self, question: str, *, conversation_id: str | None = None, user_id: str | None = None
    ) -> RAGResponse:
        if question == "boom":
            from motadata_ai.ports.llm import ProviderUnavailable

            raise ProviderUnavailable("provider down", model="m")
        if question == "bad key":
            from motadata_ai.ports.llm import ProviderAuthError

            raise ProviderAuthError("the provider refused the credentials", model="m", status_code=401)
        return RAGResponse(answer=f"answer to {question}", question=question)


def client() -> httpx.AsyncClient:
    unified = UnifiedQuery(rag_factory=lambda tenant: Rag(), agent_factory=None)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(unified)), base_url="http://test")


async def test_query_answers_through_the_unified_query() -> None:
    async with client() as http:
        reply = await http.post("/query", json={"query": "How do I reset MFA?", "tenant_id": "acme"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["answer"] == "answer to How do I reset MFA?" and body["mode"] == "rag"
    assert body["tenant_id"] == "acme"


async def test_errors_map_to_status_codes_with_typed_bodies() -> None:
    async with client() as http:
        bad_tenant = await http.post("/query", json={"query": "x", "tenant_id": "bad tenant!"})
        bad_mode = await http.post("/query", json={"query": "x", "tenant_id": "acme", "mode": "all"})
        down = await http.post("/query", json={"query": "boom", "tenant_id": "acme"})
    assert bad_tenant.status_code == 422 and bad_tenant.json()["error"]["sdk_error"] == "InvalidTenant"
    assert bad_mode.status_code == 422 and bad_mode.json()["error"]["param"] == "mode"
    assert down.status_code == 503 and down.json()["error"]["sdk_error"] == "ProviderUnavailable"
    assert down.json()["error"]["fields"]["model"] == "m"


async def test_a_bad_provider_key_is_the_servers_failure_not_the_clients() -> None:
    async with client() as http:
        refused = await http.post("/query", json={"query": "bad key", "tenant_id": "acme"})
    assert refused.status_code == 502
    error = refused.json()["error"]
    assert error["sdk_error"] == "ProviderAuthError" and error["fields"]["status_code"] == 401


async def test_openapi_schema_describes_the_query() -> None:
    async with client() as http:
        schema = (await http.get("/openapi.json")).json()
        health = await http.get("/health")
    assert health.json() == {"status": "ok"}
    operation = schema["paths"]["/query"]["post"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "UnifiedResponse"
    )
    assert "QueryRequest" in schema["components"]["schemas"]


def test_cli_registers_serve_query_and_agent_run() -> None:
    command, ctx = parse(["query", "restart web-1", "--mode", "both", "--tenant", "acme"])
    args = arguments(ctx)
    assert command is agents_cli.query and args.mode == "both" and args.tenant == "acme"
    command, ctx = parse(["agent", "run", "close INC-1", "--user", "u1"])
    assert command is agents_cli.agent_run and arguments(ctx).user == "u1"
    command, ctx = parse(["serve", "--port", "9000"])
    assert command is agents_cli.serve and arguments(ctx).port == 9000


class Starting:
    """A target whose start-up work is still running until ``ready`` is set."""

    def __init__(self) -> None:
        self.ready = False

    async def query(self, query: str, **_: object) -> object:
        raise AssertionError("not called")


async def test_ready_answers_503_while_the_sdk_starts_then_200() -> None:
    target = Starting()
    transport = httpx.ASGITransport(app=create_app(target))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        starting = await http.get("/ready")
        target.ready = True
        ready = await http.get("/ready")
        live = await http.get("/health")
    assert (starting.status_code, starting.json()) == (503, {"status": "starting"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert live.status_code == 200


async def test_serve_without_keys_is_refused_off_loopback() -> None:
    command, ctx = parse(["serve", "--no-auth", "--host", "0.0.0.0"])
    args = arguments(ctx)
    assert command is agents_cli.serve and args.no_auth is True
    with pytest.raises(ConfigurationError) as caught:
        await agents_cli._serve(args)
    assert "loopback" in caught.value.message


async def test_mounted_in_an_app_without_handlers_sdk_errors_still_answer_the_error_body() -> None:
    unified = UnifiedQuery(rag_factory=lambda tenant: Rag(), agent_factory=None)
    host = FastAPI()
    host.include_router(create_router(unified, prefix="/ai"))
    transport = httpx.ASGITransport(app=host, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        down = await http.post("/ai/query", json={"query": "boom", "tenant_id": "acme"})
        bad_tenant = await http.post("/ai/query", json={"query": "x", "tenant_id": "bad tenant!"})
    assert down.status_code == 503 and down.json()["error"]["sdk_error"] == "ProviderUnavailable"
    assert bad_tenant.status_code == 422 and bad_tenant.json()["error"]["sdk_error"] == "InvalidTenant"
