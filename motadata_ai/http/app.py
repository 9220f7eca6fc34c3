"""The application factory: every router, one error body, the OpenAPI description, offline docs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from motadata_ai.domain.access import VirtualKeys
from motadata_ai.http.auth import caller_dependency
from motadata_ai.http.errors import install_error_handlers
from motadata_ai.http.health import create_health_router
from motadata_ai.http.ml import create_ml_router
from motadata_ai.http.query import create_query_router
from motadata_ai.http.rag import IngestRequest, create_rag_router
from motadata_ai.http.routing import SDKErrorRoute
from motadata_ai.http.v1 import create_v1_router

__all__ = ["DESCRIPTION", "create_app", "create_router"]

DESCRIPTION = """\
The Motadata AI SDK over HTTP: an OpenAI-compatible gateway (`/v1/chat/completions` with
streaming and tools, `/v1/embeddings`, `/v1/models`), RAG (`/v1/rag/ingest`, `/v1/rag/query`),
model serving (`/v1/ml/models/{name}/predict`) and the unified query (`/query`).

Every call runs through the same gateway as an in-process call: cache, per-tenant rate limits,
guardrails, usage ledger and traces. The tenant and user come from the API key
(`Authorization: Bearer mk-...`, created with `motadata-ai keys create --tenant ...`).

Every error answers `{"error": {"message", "type", "param", "code", "sdk_error", "fields"}}`
(the OpenAI error shape); a rate-limited call answers 429 with a `Retry-After` header.
"""


def create_router(
    target: Any, *, keys: VirtualKeys | None = None, prefix: str = "", tags: list[str] | None = None
) -> APIRouter:
    """Every route ``target`` supports, for mounting in an application.

    ``target`` is the connected SDK (``ai``) or anything with some of its parts: ``query(...)``
    gives ``POST /query``; ``gateway`` gives ``/v1/chat/completions``, ``/v1/embeddings`` and
    ``/v1/models``; ``rag(tenant)`` gives ``/v1/rag/*``; ``ml(tenant)`` gives the prediction route.
    ``/health`` and ``/ready`` are always there. With ``keys`` every route but the probes needs an
    API key; without, the tenant comes from the ``X-Motadata-Tenant`` header or the body.
    """
    router = APIRouter(prefix=prefix, route_class=SDKErrorRoute, tags=list(tags) if tags else [])
    caller = caller_dependency(keys)
    router.include_router(create_health_router(target))
    if hasattr(target, "query"):
        router.include_router(create_query_router(target, caller))
    if getattr(target, "gateway", None) is not None:
        router.include_router(create_v1_router(target.gateway, caller))
    if hasattr(target, "rag"):
        router.include_router(create_rag_router(target, caller))
    if hasattr(target, "ml"):
        router.include_router(create_ml_router(target, caller))
    return router


def _finished(schema: dict[str, Any], extra_models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """Add the schemas of bodies a route reads by itself (``openapi_extra``) and drop FastAPI's own
    validation-error schemas: every 422 here answers ``ErrorBody``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in extra_models:
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in found.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault(model.__name__, found)
    text = str(schema.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if name in components and f"#/components/schemas/{name}'" not in text:
            del components[name]
    return schema


def create_app(
    target: Any, *, keys: VirtualKeys | None = None, title: str = "Motadata AI", prefix: str = ""
) -> FastAPI:
    """The FastAPI application of ``motadata-ai serve`` (see :func:`create_router`), with Swagger UI at
    ``/docs`` and ReDoc at ``/redoc`` served from the installed ``fastapi-offline`` assets."""
    from fastapi_offline import FastAPIOffline

    app = FastAPIOffline(title=title, version=_version(), description=DESCRIPTION)
    app.include_router(create_router(target, keys=keys, prefix=prefix))
    install_error_handlers(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = _finished(schema, (IngestRequest,))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("motadata-ai-sdk")
    except PackageNotFoundError:
        return "0"
