"""The function API's agents: :func:`create_agent`, :func:`create_agent_with_memory` and
:func:`chat_with_agent`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.functions._common import _tenant_of
from motadata_ai.functions.database import Database
from motadata_ai.functions.gateway import TenantGateway, _core_gateway
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.domain.agents.agent import Agent
    from motadata_ai.domain.values.agents import AgentTask

__all__ = ["FunctionAgent", "chat_with_agent", "create_agent", "create_agent_with_memory"]


def _memory_config(memory_config: Any, settings: Settings) -> Any:
    from motadata_ai.domain.values.memory import MemoryConfig

    if memory_config is None or isinstance(memory_config, MemoryConfig):
        return memory_config
    return MemoryConfig.model_validate({**settings.memory.model_dump(), **dict(memory_config)})


class FunctionAgent:
    """An agent built by :func:`create_agent`: the SDK's
    :class:`~motadata_ai.domain.agents.agent.Agent` (``execute_task``, ``chat``, ``add_tool``,
    ``attach_memory`` ...), and its database when its memory lives there (``attach_memory(db)``
    connects it on the first task)."""

    def __init__(self, agent: Agent, *, db: Database | None = None) -> None:
        self.core = agent
        self._db = db

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self.core, name)
        if not inspect.iscoroutinefunction(value) or self._db is None:
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._attach_database_memory()
            return await value(*args, **kwargs)

        call.__name__ = name
        return call

    async def _attach_database_memory(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            ai = await db.connect()
            self.core.attach_memory(ai.port("memory_store"))

    def add_tool(self, tool: Any) -> Any:
        """Add a tool (a typed function or a ``Tool``)."""
        return self.core.add_tool(tool)

    def attach_memory(self, memory: Any) -> None:
        """Give the agent memory: a ``MemoryManager``, a memory store, or a :class:`Database`
        (its PostgreSQL memory store, connected on the first task)."""
        if isinstance(memory, Database):
            self._db = memory
            return
        self.core.attach_memory(memory)


def create_agent(
    *,
    agent_id: str,
    name: str | None = None,
    gateway: Any = None,
    tenant_id: str | TenantContext | None = None,
    memory_config: Mapping[str, Any] | Any = None,
    tools: Iterable[Callable[..., Any] | Any] = (),
    memory: Any = None,
    settings: Settings | None = None,
    **options: Any,
) -> FunctionAgent:
    """An agent of ``tenant_id`` (default: the gateway's tenant) whose every model call goes
    through ``gateway``. ``memory_config`` (``max_episodic``, ``max_semantic``, ``max_age_days``
    ...) bounds its memory; ``memory`` (or ``agent.attach_memory(...)`` later) gives it one;
    ``tools`` are typed functions (``agent.add_tool(fn)`` adds more)."""
    from motadata_ai.api import create_agent as build_agent

    core = _core_gateway(gateway)
    bound = gateway.tenant_id if isinstance(gateway, TenantGateway) else None
    tenant = TenantContext.of(tenant_id).tenant_id if tenant_id is not None else _tenant_of(None, bound)
    resolved = settings or Settings()
    config = _memory_config(memory_config, resolved)
    if config is not None:
        options["memory_config"] = config
    db = memory if isinstance(memory, Database) else None
    agent = build_agent(
        agent_id=agent_id,
        name=name or agent_id,
        gateway=core,
        tenant_id=tenant,
        settings=resolved,
        tools=list(tools),
        memory=None if db is not None else memory,
        **options,
    )
    return FunctionAgent(agent, db=db)


def create_agent_with_memory(
    *,
    agent_id: str,
    name: str | None = None,
    gateway: Any = None,
    tenant_id: str | TenantContext | None = None,
    memory_config: Mapping[str, Any] | Any = None,
    db: Database | None = None,
    **options: Any,
) -> FunctionAgent:
    """:func:`create_agent` with memory: on ``db`` (its PostgreSQL memory store) when given, else
    in process."""
    memory: Any = db
    if memory is None:
        from motadata_ai.adapters.memory.memory_store import InMemoryMemoryStore

        memory = InMemoryMemoryStore()
    return create_agent(
        agent_id=agent_id,
        name=name,
        gateway=gateway,
        tenant_id=tenant_id,
        memory_config=memory_config,
        memory=memory,
        **options,
    )


async def chat_with_agent(
    agent: FunctionAgent | Agent,
    message: str,
    *,
    conversation_id: str = "default",
    user_id: str | None = None,
    tenant_id: str | None = None,
) -> AgentTask:
    """One conversation turn with ``agent`` (its session keeps the earlier turns)."""
    core = agent.core if isinstance(agent, FunctionAgent) else agent
    if tenant_id is not None and validate_tenant_id(tenant_id) != core.tenant.tenant_id:
        raise ValidationError(
            f"this agent serves tenant {core.tenant.tenant_id!r}, not {tenant_id!r}", field="tenant_id"
        )
    return await agent.chat(message, conversation_id=conversation_id, user_id=user_id)
