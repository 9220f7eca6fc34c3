"""The function API's unified query endpoint (mounted on an application's ``APIRouter``) and
:func:`health_check` of the gateway, the database and the cache."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.functions._common import DEFAULT_TENANT
from motadata_ai.functions.agents import FunctionAgent
from motadata_ai.functions.database import Database
from motadata_ai.functions.gateway import TenantGateway, _core_gateway
from motadata_ai.functions.rag import FunctionRAGSystem

if TYPE_CHECKING:
    from motadata_ai.domain.routing.unified import UnifiedQuery

__all__ = ["create_unified_query_endpoint", "health_check"]


def _agent_factory(agent_manager: Any) -> Callable[[str], Any] | None:
    """The agents of the unified query: ``None``, one agent (its tenant only), a mapping tenant ->
    agent, or a callable tenant -> agent."""
    if agent_manager is None:
        return None
    if isinstance(agent_manager, Mapping):
        agents = dict(agent_manager)

        def by_tenant(tenant: str) -> Any:
            if tenant not in agents:
                from motadata_ai.domain.values.errors import NotFound

                raise NotFound(f"no agent for tenant {tenant!r}", tenant_id=tenant)
            return _agent_core(agents[tenant])

        return by_tenant
    if callable(agent_manager) and not hasattr(agent_manager, "execute_task"):
        return lambda tenant: _agent_core(agent_manager(tenant))
    agent = _agent_core(agent_manager)

    def single(tenant: str) -> Any:
        if tenant != agent.tenant.tenant_id:
            raise ValidationError(
                f"the agent serves tenant {agent.tenant.tenant_id!r}, not {tenant!r}", field="tenant_id"
            )
        return agent

    return single


def _agent_core(agent: Any) -> Any:
    return agent.core if isinstance(agent, FunctionAgent) else agent


class _SystemOf:
    """A RAG system that resolves a :class:`FunctionRAGSystem` per call (the unified query calls
    ``query`` on it)."""

    def __init__(self, rag: FunctionRAGSystem) -> None:
        self._rag = rag

    async def query(self, question: str, **options: Any) -> Any:
        return await self._rag.query(question, **options)


def _rag_factory(rag_system: Any) -> Callable[[str], Any] | None:
    if rag_system is None:
        return None
    if isinstance(rag_system, FunctionRAGSystem):
        return lambda tenant: _SystemOf(rag_system.for_tenant(tenant))
    if callable(rag_system) and not hasattr(rag_system, "query"):
        return rag_system  # type: ignore[no-any-return]

    def single(tenant: str) -> Any:
        if tenant != rag_system.tenant.tenant_id:
            raise ValidationError(
                f"the RAG system serves tenant {rag_system.tenant.tenant_id!r}, not {tenant!r}",
                field="tenant_id",
            )
        return rag_system

    return single


def create_unified_query_endpoint(
    router: Any = None,
    agent_manager: Any = None,
    rag_system: Any = None,
    gateway: Any = None,
    *,
    path: str = "/query",
    rag_factory: Callable[[str], Any] | None = None,
    agent_factory: Callable[[str], Any] | None = None,
    **options: Any,
) -> UnifiedQuery:
    """The unified query (mode auto/agent/rag/both) over ``rag_system`` and ``agent_manager`` (an
    agent, a mapping tenant -> agent, or a callable), routed with ``gateway``; with ``router`` (a
    FastAPI ``APIRouter``) it is also mounted there as ``POST {path}``. Returns the
    :class:`~motadata_ai.domain.routing.unified.UnifiedQuery`."""
    from motadata_ai.api import create_unified_query_endpoint as build_unified

    unified = build_unified(
        rag_factory=rag_factory or _rag_factory(rag_system),
        agent_factory=agent_factory or _agent_factory(agent_manager),
        gateway=_core_gateway(gateway) if gateway is not None else None,
        **options,
    )
    if router is not None:
        from motadata_ai.routes import mount_unified_query

        mount_unified_query(router, unified, path=path)
    return unified


# --- health -------------------------------------------------------------------------------------


async def health_check(
    *, gateway: Any = None, db: Database | None = None, cache: Any = None
) -> dict[str, Any]:
    """The health of the given gateway, database and cache: ``{"status": "ok" | "degraded",
    "components": {...}}`` (a component that fails reports its error instead of raising)."""
    components: dict[str, Any] = {}
    if gateway is not None:
        wrapped = (
            gateway
            if isinstance(gateway, TenantGateway)
            else TenantGateway(gateway, tenant_id=DEFAULT_TENANT)
        )
        try:
            components["gateway"] = await wrapped.health_check()
        except Exception as error:  # health reports, it does not raise
            components["gateway"] = {
                "status": "unavailable",
                "error": type(error).__name__,
                "message": str(error),
            }
    if db is not None:
        components["database"] = await db.health_check()
    if cache is not None:
        try:
            alive = bool(await cache.ping())
            components["cache"] = {
                "status": "ok" if alive else "unavailable",
                "backend": type(cache).__name__,
            }
        except Exception as error:
            components["cache"] = {
                "status": "unavailable",
                "error": type(error).__name__,
                "message": str(error),
            }
    healthy = all(c.get("status") == "ok" for c in components.values())
    return {"status": "ok" if healthy else "degraded", "components": components}
