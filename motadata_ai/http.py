"""The optional HTTP edge: a FastAPI router exposing the unified query, with an OpenAPI schema.

``create_router(target)`` returns an ``APIRouter`` with ``POST /query``, ``GET /health``
(liveness) and ``GET /ready`` (readiness: the health report, 503 while starting or a store is down);
``create_app(target)`` wraps it in a FastAPI application (``motadata-ai serve`` runs it with
uvicorn). ``target`` is anything with ``async query(query, *, tenant_id, user_id,
conversation_id, mode)``: the connected SDK (``ai``) or a :class:`UnifiedQuery`.

Errors map to status codes by their branch of the error tree (:mod:`motadata_ai.errors`):
``ValidationError`` 422 and ``NotFound`` 404 (the request is wrong), ``RateLimited`` and
``ProviderRateLimited`` 429, ``ProviderBadRequest`` 502 (the model provider refused the server's
request: a bad API key, an unknown model — never the client's fault), every other
``ServiceError`` 503, and every other ``UsageError`` (configuration) 500; the body is
``{"error": <type>, "message": <text>, "fields": {...}}`` (fields limited to plain values).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from motadata_ai.domain.gateway.errors import RateLimited
from motadata_ai.domain.routing.unified import UnifiedResponse
from motadata_ai.domain.values.errors import MotadataError, NotFound, ServiceError, ValidationError
from motadata_ai.ports.llm import ProviderBadRequest, ProviderRateLimited


class QueryTarget(Protocol):
    """What the router calls."""

    async def query(
        self,
        query: str,
        *,
        tenant_id: str,
        user_id: str | None = None,
        conversation_id: str | None = None,
        mode: Literal["auto", "agent", "rag", "both"] = "auto",
    ) -> UnifiedResponse:
        """Answer one query."""
        ...


class QueryRequest(BaseModel):
    """A unified query."""

    query: str = Field(min_length=1, max_length=8000, description="The question or the request")
    tenant_id: str = Field(description="Tenant id ([A-Za-z0-9_.-], at most 64 characters)")
    user_id: str | None = Field(None, description="The user asking (memory, sessions, erasure)")
    conversation_id: str | None = Field(None, description="Continue this conversation")
    mode: Literal["auto", "agent", "rag", "both"] = Field(
        "auto", description="auto: route by the heuristic or classifier; agent; rag; both (merged)"
    )


class ErrorBody(BaseModel):
    """An error answer."""

    error: str
    message: str
    fields: dict[str, Any] = Field(default_factory=dict)


def status_code(error: MotadataError) -> int:
    """The HTTP status for an SDK error (see the module's docstring)."""
    if isinstance(error, ValidationError):
        return 422
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, RateLimited | ProviderRateLimited):
        return 429
    if isinstance(error, ProviderBadRequest):
        return 502
    if isinstance(error, ServiceError):
        return 503
    return 500


def _plain_fields(error: MotadataError) -> dict[str, Any]:
    return {
        key: value
        for key, value in error.fields.items()
        if isinstance(value, str | int | float | bool | type(None))
        or (isinstance(value, list) and all(isinstance(v, str | int | float) for v in value))
    }


def error_response(error: MotadataError) -> JSONResponse:
    """The JSON answer for an SDK error."""
    body = ErrorBody(error=type(error).__name__, message=error.message, fields=_plain_fields(error))
    return JSONResponse(status_code=status_code(error), content=body.model_dump(mode="json"))


def create_router(target: QueryTarget, *, prefix: str = "", tags: list[str] | None = None) -> APIRouter:
    """An ``APIRouter`` with ``POST {prefix}/query``, ``GET {prefix}/health`` and ``GET {prefix}/ready``."""
    router = APIRouter(prefix=prefix, tags=list(tags or ["motadata-ai"]))

    @router.post(
        "/query",
        response_model=UnifiedResponse,
        responses={
            404: {"model": ErrorBody},
            422: {"model": ErrorBody},
            429: {"model": ErrorBody},
            500: {"model": ErrorBody},
            502: {"model": ErrorBody},
            503: {"model": ErrorBody},
        },
        summary="Answer from knowledge (RAG), act (agent), or both",
    )
    async def query(body: QueryRequest) -> Any:
        try:
            return await target.query(
                body.query,
                tenant_id=body.tenant_id,
                user_id=body.user_id,
                conversation_id=body.conversation_id,
                mode=body.mode,
            )
        except MotadataError as error:
            return error_response(error)

    @router.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        summary="Readiness: 200 once the models are loaded and every store answers, else 503",
        responses={503: {"description": "Starting, or a component is down (the health report)"}},
    )
    async def ready() -> JSONResponse:
        from motadata_ai.health import readiness_response

        code, body = await readiness_response(target)
        return JSONResponse(status_code=code, content=body)

    return router


def create_app(target: QueryTarget, *, title: str = "Motadata AI", prefix: str = "") -> FastAPI:
    """A FastAPI application serving :func:`create_router`."""
    app = FastAPI(title=title, version=_version())
    app.include_router(create_router(target, prefix=prefix))

    @app.exception_handler(MotadataError)
    async def sdk_error(_: Request, error: MotadataError) -> JSONResponse:
        return error_response(error)

    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("motadata-ai-sdk")
    except PackageNotFoundError:
        return "0"
