"""The HTTP edge's OpenAPI description: valid, named operations, every error body declared, the key
scheme, and Swagger UI / ReDoc served from local assets (no CDN)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_spec_validator import validate

from motadata_ai.adapters.memory.keys import InMemoryKeyStore
from motadata_ai.domain.access import VirtualKeys
from motadata_ai.http import create_app


class Everything:
    """A target with every part the app can serve (none is called here)."""

    class gateway:
        default_model = "m"

    ready = True

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not called")

    def rag(self, tenant_id: str) -> Any:
        raise AssertionError("not called")

    def ml(self, tenant_id: str) -> Any:
        raise AssertionError("not called")


def app() -> Any:
    return create_app(Everything(), keys=VirtualKeys(InMemoryKeyStore()))


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://test")


OPERATIONS = {
    ("/health", "get"): "health",
    ("/ready", "get"): "ready",
    ("/query", "post"): "query",
    ("/v1/chat/completions", "post"): "createChatCompletion",
    ("/v1/embeddings", "post"): "createEmbeddings",
    ("/v1/models", "get"): "listModels",
    ("/v1/rag/ingest", "post"): "ragIngest",
    ("/v1/rag/query", "post"): "ragQuery",
    ("/v1/ml/models/{name}/predict", "post"): "predict",
}


async def test_the_spec_is_valid_openapi_with_named_operations() -> None:
    async with client() as http:
        spec = (await http.get("/openapi.json")).json()
    validate(spec)
    found = {
        (path, method): op["operationId"] for path, ops in spec["paths"].items() for method, op in ops.items()
    }
    assert found == OPERATIONS
    assert "OpenAI-compatible" in spec["info"]["description"]


async def test_every_error_answer_is_declared_with_the_sdk_error_body() -> None:
    async with client() as http:
        spec = (await http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["ErrorBody"]["properties"]) == {"error"}
    assert {"message", "type", "param", "code"} <= set(schemas["ErrorDetail"]["properties"])
    for (path, method), _ in OPERATIONS.items():
        if path in ("/health", "/ready"):
            continue
        responses = spec["paths"][path][method]["responses"]
        for status in ("400", "401", "403", "404", "422", "429", "503"):
            body = responses[status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)


async def test_the_virtual_key_is_the_security_scheme_of_every_call_but_the_probes() -> None:
    async with client() as http:
        spec = (await http.get("/openapi.json")).json()
    scheme = spec["components"]["securitySchemes"]["VirtualKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for (path, method), _ in OPERATIONS.items():
        security = spec["paths"][path][method].get("security")
        assert security == (None if path in ("/health", "/ready") else [{"VirtualKey": []}]), path


async def test_the_ingest_body_documents_json_and_multipart() -> None:
    async with client() as http:
        spec = (await http.get("/openapi.json")).json()
    content = spec["paths"]["/v1/rag/ingest"]["post"]["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/IngestRequest"}
    assert "IngestRequest" in spec["components"]["schemas"] and "DocumentIn" in spec["components"]["schemas"]
    assert content["multipart/form-data"]["schema"]["properties"]["file"]["items"]["format"] == "binary"


async def test_swagger_ui_and_redoc_load_only_local_assets() -> None:
    async with client() as http:
        for page in ("/docs", "/redoc"):
            html = (await http.get(page)).text
            assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
            assert assets, page
            assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], (page, assets)
            for asset in assets:
                reply = await http.get(asset)
                assert reply.status_code == 200 and len(reply.content) > 100, asset
