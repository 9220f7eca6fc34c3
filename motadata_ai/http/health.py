"""``GET /health`` (liveness) and ``GET /ready`` (readiness), the two probes, in one place."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from motadata_ai.http.routing import SDKErrorRoute

__all__ = ["create_health_router"]


def create_health_router(target: Any) -> APIRouter:
    """The probes: ``/health`` answers while the process runs; ``/ready`` is 503 until
    ``target.ready`` (a target without start-up work is ready)."""
    router = APIRouter(tags=["health"], route_class=SDKErrorRoute)

    @router.get("/health", operation_id="health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        operation_id="ready",
        summary="Readiness: 200 once the models are loaded, 503 while the SDK starts",
        responses={503: {"description": "Still starting"}},
    )
    async def ready() -> JSONResponse:
        started = bool(getattr(target, "ready", True))
        return JSONResponse(
            status_code=200 if started else 503, content={"status": "ready" if started else "starting"}
        )

    return router
