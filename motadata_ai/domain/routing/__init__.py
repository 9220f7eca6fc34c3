"""Query routing: the unified query (auto/agent/rag/both) and its documented heuristic."""

from motadata_ai.domain.routing.heuristic import ACTION_VERBS, RouteDecision, route_by_heuristic
from motadata_ai.domain.routing.unified import (
    QUERY_MODES,
    QueryMode,
    RagAnswerer,
    TaskRunner,
    UnifiedQuery,
    UnifiedResponse,
    agent_confidence,
    rag_confidence,
)

__all__ = [
    "ACTION_VERBS",
    "QUERY_MODES",
    "QueryMode",
    "RagAnswerer",
    "RouteDecision",
    "TaskRunner",
    "UnifiedQuery",
    "UnifiedResponse",
    "agent_confidence",
    "rag_confidence",
    "route_by_heuristic",
]
