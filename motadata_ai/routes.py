"""``create_unified_query_endpoint(router=...)``'s route: the unified query mounted on an
application's own FastAPI ``APIRouter`` (its authentication and prefix stay the application's).

The tenant comes from the body: the application in front authenticates its callers (the SDK's
own server, ``motadata-ai serve``, takes it from an API key instead). The error bodies and their
status codes are the HTTP edge's (:mod:`motadata_ai.http`).
"""

from typing import Any, Literal

from pydantic import BaseModel, Field

from motadata_ai.domain.routing.unified import UnifiedQuery, UnifiedResponse
from motadata_ai.domain.values.errors import MotadataError


class UnifiedQueryRequest(BaseModel):
    """A unified query for a tenant the application has authenticated."""

    query: str = Field(min_length=1, max_length=8000, description="The question or the request")
    tenant_id: str = Field(description="Tenant id ([A-Za-z0-9_.-], at most 64 characters)")
    user_id: str | None = Field(None, description="The user asking (memory, sessions, erasure)")
    conversation_id: str | None = Field(None, description="Continue this conversation")
    mode: Literal["auto", "agent", "rag", "both"] = Field(
        "auto", description="auto: route by the heuristic or classifier; agent; rag; both (merged)"
    )


def mount_unified_query(router: Any, unified: UnifiedQuery, *, path: str = "/query") -> None:
    """Add ``POST {path}`` answering :class:`UnifiedQueryRequest` bodies with ``unified`` to
    ``router``."""
    from motadata_ai.http import ErrorBody, error_response

    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody} for code in (404, 422, 429, 500, 502, 503)
    }

    async def unified_query(body: UnifiedQueryRequest) -> Any:
        try:
            return await unified.query(
                body.query,
                tenant_id=body.tenant_id,
                user_id=body.user_id,
                conversation_id=body.conversation_id,
                mode=body.mode,
            )
        except MotadataError as error:
            return error_response(error)

    router.add_api_route(
        path,
        unified_query,
        methods=["POST"],
        response_model=UnifiedResponse,
        responses=errors,
        summary="Answer from knowledge (RAG), act (agent), or both",
        operation_id="unified_query",
    )
