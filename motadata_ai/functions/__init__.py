"""The design document's function API, as written: ``create_gateway(api_key=..., provider=...,
default_model=..., tenant_id=...)``, ``create_database_connection(host=..., ...)``,
``create_rag_system(db=..., gateway=..., tenant_id=...)``, ``create_agent(...)``,
``create_ml_system(db=..., tenant_id=...)``, ``create_unified_query_endpoint(router, ...)``,
``quick_rag_query_async(...)``, ``chat_with_agent(...)`` and ``health_check(...)``.

Nothing here is a second implementation: every object is built by :func:`motadata_ai.connect`
and the ``create_*`` factories of :mod:`motadata_ai.api`, and every call runs the same use-case
(the gateway with its policies, the RAG system, the agent, the ML system, the unified query).
The functions are plain (not ``async``), as the document writes them: a database handle opens its
pool on the first awaited call that needs it, in the event loop of that call (one loop per handle;
``await db.aclose()`` or ``async with db:`` closes it).

    gateway = create_gateway(api_key="sk-...", provider="openai", default_model="gpt-4o-mini",
                             tenant_id="acme")
    db = create_database_connection(host="localhost", port=5432, database="ai",
                                    user="postgres", password="secret")
    rag = create_rag_system(db=db, gateway=gateway, tenant_id="acme", enable_memory=True)
    answer = await quick_rag_query_async(rag_system=rag, query="How do I reset MFA?", tenant_id="acme")
"""

from motadata_ai.functions.agents import (
    FunctionAgent,
    chat_with_agent,
    create_agent,
    create_agent_with_memory,
)
from motadata_ai.functions.database import Database, create_cache_mechanism, create_database_connection
from motadata_ai.functions.gateway import GenerateResponse, TenantGateway, create_gateway
from motadata_ai.functions.ml import FunctionMLSystem, create_ml_system
from motadata_ai.functions.rag import FunctionRAGSystem, RAGMemory, create_rag_system, quick_rag_query_async
from motadata_ai.functions.unified import create_unified_query_endpoint, health_check

__all__ = [
    "Database",
    "FunctionAgent",
    "FunctionMLSystem",
    "FunctionRAGSystem",
    "GenerateResponse",
    "RAGMemory",
    "TenantGateway",
    "chat_with_agent",
    "create_agent",
    "create_agent_with_memory",
    "create_cache_mechanism",
    "create_database_connection",
    "create_gateway",
    "create_ml_system",
    "create_rag_system",
    "create_unified_query_endpoint",
    "health_check",
    "quick_rag_query_async",
]
