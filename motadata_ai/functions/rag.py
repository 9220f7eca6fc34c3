"""The function API's RAG: :func:`create_rag_system` over a :class:`Database`, and
:func:`quick_rag_query_async`."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.functions._common import _tenant_of
from motadata_ai.functions.database import Database, _default_database
from motadata_ai.functions.gateway import TenantGateway, _core_gateway
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.domain.gateway.service import Gateway
    from motadata_ai.domain.retrieval.system import RAGSystem
    from motadata_ai.domain.values.documents import RAGResponse

__all__ = ["FunctionRAGSystem", "RAGMemory", "create_rag_system", "quick_rag_query_async"]


class RAGMemory:
    """The conversation memory of a RAG system (``rag.memory``): earlier turns by conversation."""

    def __init__(self, rag: FunctionRAGSystem) -> None:
        self._rag = rag

    async def retrieve(
        self, query: str | None = None, *, limit: int = 5, conversation_id: str | None = None
    ) -> list[Any]:
        """The last ``limit`` turns of ``conversation_id`` (the RAG system's conversation memory);
        ``query`` is accepted for the document's signature (turns are returned in order)."""
        if conversation_id is None:
            return []
        system = await self._rag.system()
        turns = await system.conversation(conversation_id, limit=limit)
        return list(turns)[-limit:]


class FunctionRAGSystem:
    """A tenant's RAG system on a :class:`Database`, built on first use (``ingest``, ``query``,
    ``retrieve`` ... are the :class:`~motadata_ai.domain.retrieval.system.RAGSystem`'s own)."""

    def __init__(self, *, db: Database, gateway: Gateway, tenant_id: str, options: dict[str, Any]) -> None:
        self.db = db
        self.gateway = gateway
        self.tenant_id = tenant_id
        self._options = options
        self._system: RAGSystem | None = None
        self.memory = RAGMemory(self)

    async def system(self) -> RAGSystem:
        """The RAG system (built on the first call)."""
        if self._system is None:
            from motadata_ai.api import create_rag_system as build_rag

            ai = await self.db.connect()
            self._system = build_rag(
                tenant_id=self.tenant_id,
                gateway=self.gateway,
                vector_store=ai.port("vector_store"),
                documents=ai.port("documents"),
                settings=ai.settings,
                parser=ai.port("parser"),
                tokenizer=ai.port("tokenizer"),
                **self._options,
            )
        return self._system

    def for_tenant(self, tenant_id: str) -> FunctionRAGSystem:
        """The same RAG configuration for another tenant (its own documents)."""
        tenant = validate_tenant_id(tenant_id)
        if tenant == self.tenant_id:
            return self
        return FunctionRAGSystem(
            db=self.db, gateway=self.gateway, tenant_id=tenant, options=dict(self._options)
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            method = getattr(await self.system(), name)
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        call.__name__ = name
        return call


_CHUNKING_STRATEGIES = ("tokens",)


def create_rag_system(
    *,
    db: Database | None = None,
    gateway: Any = None,
    tenant_id: str | TenantContext | None = None,
    enable_memory: bool = True,
    memory_config: Mapping[str, Any] | None = None,
    chunking_strategy: str | None = None,
    similarity_threshold: float | None = None,
    vector_store: Any = None,
    documents: Any = None,
    settings: Settings | None = None,
    **options: Any,
) -> FunctionRAGSystem | RAGSystem:
    """A tenant's RAG system over ``db`` (default: the configured profile's database) with
    ``gateway``'s policies. ``enable_memory`` keeps conversation turns (``memory_config``:
    ``memory_turns``); ``chunking_strategy`` is ``"tokens"`` (overlapping token windows on
    paragraph boundaries, the one strategy built); ``similarity_threshold`` and any
    :class:`~motadata_ai.domain.retrieval.config.RAGConfig` field (``top_k=3``, ``chunk_size=500``)
    override the settings. Given ``vector_store`` and ``documents`` instead of ``db``, the system is
    built at once over them (the parts style of :func:`motadata_ai.api.create_rag_system`)."""
    core = _core_gateway(gateway)
    bound = getattr(gateway, "tenant_id", None) if isinstance(gateway, TenantGateway) else None
    tenant = TenantContext.of(tenant_id).tenant_id if tenant_id is not None else _tenant_of(None, bound)
    if chunking_strategy is not None and chunking_strategy not in _CHUNKING_STRATEGIES:
        raise ValidationError(
            f"unknown chunking_strategy {chunking_strategy!r} "
            f"(strategies: {', '.join(_CHUNKING_STRATEGIES)})",
            field="chunking_strategy",
        )
    options["enable_memory"] = enable_memory
    if memory_config:
        unknown = sorted(set(memory_config) - {"memory_turns"})
        if unknown:
            raise ValidationError(
                f"unknown memory_config keys {unknown} (keys: memory_turns)", field="memory_config"
            )
        options.update(memory_config)
    if similarity_threshold is not None:
        options["similarity_threshold"] = similarity_threshold
    if vector_store is not None or documents is not None:
        from motadata_ai.api import create_rag_system as build_rag

        return build_rag(
            tenant_id=tenant,
            gateway=core,
            vector_store=vector_store,
            documents=documents,
            settings=settings,
            **options,
        )
    return FunctionRAGSystem(db=_default_database(db), gateway=core, tenant_id=tenant, options=options)


async def quick_rag_query_async(
    *,
    rag_system: FunctionRAGSystem | RAGSystem,
    query: str,
    tenant_id: str | None = None,
    **options: Any,
) -> RAGResponse:
    """Answer ``query`` from ``tenant_id``'s knowledge (default: the RAG system's tenant; another
    tenant gets the same configuration over its own documents). ``options`` go to ``query``
    (``conversation_id``, ``user_id``, ``top_k``, ``mode``)."""
    if isinstance(rag_system, FunctionRAGSystem):
        rag_system = rag_system.for_tenant(tenant_id) if tenant_id is not None else rag_system
        return await rag_system.query(query, **options)  # type: ignore[no-any-return]
    if tenant_id is not None and validate_tenant_id(tenant_id) != rag_system.tenant.tenant_id:
        raise ValidationError(
            f"this RAG system serves tenant {rag_system.tenant.tenant_id!r}, not {tenant_id!r}",
            field="tenant_id",
        )
    return await rag_system.query(query, **options)
