"""``POST /query``: the unified query (RAG, agent, or both) for the caller's tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from motadata_ai.domain.routing.unified import UnifiedResponse
from motadata_ai.http.auth import Caller
from motadata_ai.http.errors import ERROR_RESPONSES
from motadata_ai.http.routing import SDKErrorRoute

__all__ = ["QueryRequest", "QueryTarget", "create_query_router"]


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
    tenant_id: str | None = Field(
        None,
        description="Tenant id; with an API key it may be omitted and must otherwise be the key's own (403)",
    )
    user_id: str | None = Field(None, description="The user asking (memory, sessions, erasure)")
    conversation_id: str | None = Field(None, description="Continue this conversation")
    mode: Literal["auto", "agent", "rag", "both"] = Field(
        "auto", description="auto: route by the heuristic or classifier; agent; rag; both (merged)"
    )


def create_query_router(target: QueryTarget, caller: Callable[..., Awaitable[Caller]]) -> APIRouter:
    """``POST /query`` over ``target``; ``caller`` is the authentication dependency."""
    router = APIRouter(tags=["query"], route_class=SDKErrorRoute)

    @router.post(
        "/query",
        operation_id="query",
        response_model=UnifiedResponse,
        responses=ERROR_RESPONSES,
        summary="Answer from knowledge (RAG), act (agent), or both",
    )
    async def query(body: QueryRequest, who: Caller = Depends(caller)) -> Any:
        await who.admit()
        response = await target.query(
            body.query,
            tenant_id=who.tenant(body.tenant_id),
            user_id=who.user(body.user_id),
            conversation_id=body.conversation_id,
            mode=body.mode,
        )
        await who.charge(response.cost_usd)
        return response

    return router
