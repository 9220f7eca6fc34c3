"""``create_unified_query_endpoint(router=...)``'s route: the unified query mounted on an
application's own FastAPI ``APIRouter`` (its authentication and prefix stay the application's).

The request and error bodies are the HTTP edge's (:mod:`motadata_ai.http`), so a client of
``motadata-ai serve`` reads this route's answers unchanged.
"""

from typing import Any

from motadata_ai.domain.routing.unified import UnifiedQuery, UnifiedResponse
from motadata_ai.domain.values.errors import MotadataError


def mount_unified_query(router: Any, unified: UnifiedQuery, *, path: str = "/query") -> None:
    """Add ``POST {path}`` answering :class:`~motadata_ai.http.QueryRequest` bodies with
    ``unified`` to ``router``."""
    from motadata_ai.http import ErrorBody, QueryRequest, error_response

    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody} for code in (404, 422, 429, 500, 502, 503)
    }

    async def unified_query(body: QueryRequest) -> Any:
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
