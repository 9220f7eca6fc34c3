"""``GET /health`` (liveness) and ``GET /ready`` (readiness), the two probes, in one place."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from motadata_ai.http.routing import SDKErrorRoute

__all__ = ["create_health_router"]


def create_health_router(target: Any) -> APIRouter:
    """The probes: ``/health`` answers while the process runs; ``/ready`` answers the health
    report, 503 while the SDK starts or a component is down (see :mod:`motadata_ai.health`)."""
    router = APIRouter(tags=["health"], route_class=SDKErrorRoute)

    @router.get("/health", operation_id="health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        operation_id="ready",
        summary="Readiness: 200 once the models are loaded and every store answers, else 503",
        responses={503: {"description": "Starting, or a component is down (the health report)"}},
    )
    async def ready() -> JSONResponse:
        from motadata_ai.health import readiness_response

        code, body = await readiness_response(target)
        return JSONResponse(status_code=code, content=body)

    return router
