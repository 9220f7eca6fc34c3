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

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import pydantic
from pydantic import BaseModel, Field

from motadata_ai.domain.values.base import ValueModel, translate_validation_error
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, Usage
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.api import AI
    from motadata_ai.domain.agents.agent import Agent
    from motadata_ai.domain.gateway.service import Gateway
    from motadata_ai.domain.ml.system import MLSystem
    from motadata_ai.domain.retrieval.system import RAGSystem
    from motadata_ai.domain.routing.unified import UnifiedQuery
    from motadata_ai.domain.values.agents import AgentTask
    from motadata_ai.domain.values.documents import RAGResponse

__all__ = [
    "Database",
    "FunctionAgent",
    "FunctionMLSystem",
    "FunctionRAGSystem",
    "GenerateResponse",
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

DEFAULT_TENANT = "default"
"""The tenant of objects created without one (the document's Appendix A.1 omits it)."""


def _tenant_of(tenant_id: str | None, *fallbacks: str | None) -> str:
    for candidate in (tenant_id, *fallbacks):
        if candidate is not None:
            return validate_tenant_id(candidate)
    return DEFAULT_TENANT


def _settings_with(settings: Settings | None, **overrides: Any) -> Settings:
    """``settings`` (default: from the environment) with ``overrides`` validated on top."""
    base = settings if settings is not None else Settings()
    given = {name: value for name, value in overrides.items() if value is not None}
    if not given:
        return base
    try:
        return Settings.model_validate({**base.model_dump(), **given})
    except pydantic.ValidationError as error:
        raise translate_validation_error(error, "options") from error


# --- the gateway --------------------------------------------------------------------------------


class GenerateResponse(ValueModel):
    """What ``gateway.generate_async(...)`` returns: the text, its tokens and cost, and metadata
    (model, provider, cached, latency, finish reason); ``response`` is the full
    :class:`~motadata_ai.domain.values.llm.ChatResponse`."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    parsed: Any = Field(
        None, description="The text as the response_schema's pydantic model, when one was given"
    )
    response: ChatResponse

    @classmethod
    def of(cls, response: ChatResponse, *, tenant_id: str, schema: Any = None) -> GenerateResponse:
        """The function-API view of a gateway response (``parsed`` when ``schema`` is a pydantic
        model class)."""
        usage: Usage = response.usage
        parsed = (
            response.parse(schema) if isinstance(schema, type) and issubclass(schema, BaseModel) else None
        )
        return cls(
            parsed=parsed,
            text=response.text,
            model=response.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            tokens=usage.total_tokens,
            cost_usd=response.cost_usd,
            cached=response.cached,
            metadata={
                "tenant_id": tenant_id,
                "provider": response.provider,
                "finish_reason": response.finish_reason,
                "latency_ms": response.latency_ms,
                "id": response.id,
            },
            response=response,
        )


def _rate_limits(config: Any) -> dict[str, Any]:
    """``rate_limit_config`` (a mapping or an object with the same attributes) as settings."""
    if config is None:
        return {}
    names = ("requests_per_minute", "burst_size", "tokens_per_minute")
    if isinstance(config, Mapping):
        unknown = sorted(set(config) - set(names))
        if unknown:
            raise ValidationError(
                f"rate_limit_config has unknown keys {unknown} (keys: {', '.join(names)})",
                field="rate_limit_config",
            )
        return {name: config[name] for name in names if name in config}
    return {name: getattr(config, name) for name in names if getattr(config, name, None) is not None}


class TenantGateway:
    """A gateway bound to a tenant: the document's ``generate_async`` / ``generate_embeddings`` /
    ``health_check`` over the SDK's :class:`~motadata_ai.domain.gateway.service.Gateway` (every
    policy applies: cache, limits, breakers, retries, guardrails, ledger). Every other attribute is
    the gateway's own (``generate``, ``stream``, ``embed`` ...)."""

    def __init__(self, gateway: Gateway, *, tenant_id: str) -> None:
        self.core = gateway
        self.tenant_id = tenant_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)

    async def generate_async(
        self,
        prompt: str | None = None,
        *,
        model: str | None = None,
        tenant_id: str | None = None,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        user_id: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        **options: Any,
    ) -> GenerateResponse:
        """One completion of ``prompt`` (or ``messages``, OpenAI-style dicts accepted) with
        ``model`` (default: the gateway's) for ``tenant_id`` (default: the bound tenant).
        ``options`` are the gateway's per-call options (``no_cache``, ``response_schema``,
        ``validation_level``, ``timeout`` ...); a pydantic model as ``response_schema`` comes back
        parsed as ``parsed``."""
        if (prompt is None) == (messages is None):
            raise ValidationError("give exactly one of prompt and messages", field="prompt")
        chosen: list[Message | Mapping[str, Any]] = []
        if system_prompt is not None:
            chosen.append(Message(role="system", content=system_prompt))
        chosen.extend(messages if messages is not None else [Message(role="user", content=prompt)])
        tenant = _tenant_of(tenant_id, self.tenant_id)
        request = ChatRequest(
            model=model or self.core.default_model,
            messages=tuple(Message.model_validate(m) if isinstance(m, Mapping) else m for m in chosen),
            temperature=temperature,
            max_tokens=max_tokens,
        )
        response = await self.core.generate(request, tenant=tenant, user_id=user_id, **options)
        return GenerateResponse.of(response, tenant_id=tenant, schema=options.get("response_schema"))

    async def generate_embeddings(
        self,
        text: str | Sequence[str],
        *,
        tenant_id: str | None = None,
        model: str | None = None,
        user_id: str | None = None,
    ) -> list[float] | list[list[float]]:
        """The embedding of ``text`` (one vector), or of each text of a list (a list of vectors)."""
        texts = [text] if isinstance(text, str) else list(text)
        response = await self.core.embed(
            texts, tenant=_tenant_of(tenant_id, self.tenant_id), model=model, user_id=user_id
        )
        vectors = [list(vector) for vector in response.vectors]
        return vectors[0] if isinstance(text, str) else vectors

    async def health_check(self) -> dict[str, Any]:
        """The gateway's health: breakers, cache and ledger (``status`` ``ok`` or ``degraded``)."""
        import dataclasses

        return dataclasses.asdict(await self.core.health())

    async def aclose(self) -> None:
        """Flush the ledger and close the model adapters."""
        await self.core.aclose()


def _model_name(provider: str | None, default_model: str | None, configured: str) -> str | None:
    """The LiteLLM model name of ``provider`` and ``default_model`` (``openai``, ``gpt-4`` ->
    ``openai/gpt-4``); a provider alone keeps the configured model when it is that provider's."""
    if default_model is None:
        if provider is None or configured.startswith(f"{provider}/"):
            return None
        raise ConfigurationError(
            f"provider={provider!r} needs default_model= (e.g. default_model='gpt-4o-mini') or "
            f"MOTADATA_LLM_MODEL naming a {provider}/ model (it names {configured!r})",
            field="default_model",
        )
    if provider is None or default_model.startswith(f"{provider}/"):
        return default_model
    return f"{provider}/{default_model}"


def create_gateway(
    *,
    api_key: str | None = None,
    provider: str | None = None,
    default_model: str | None = None,
    tenant_id: str | None = None,
    cache: Any = None,
    enable_caching: bool | None = None,
    cache_ttl: float | None = None,
    rate_limit_config: Mapping[str, Any] | Any = None,
    enable_llmops: bool = True,
    validation_level: Literal["strict", "medium", "loose"] | None = None,
    api_base: str | None = None,
    embedding_model: str | None = None,
    max_retries: int | None = None,
    settings: Settings | None = None,
    **ports: Any,
) -> TenantGateway:
    """A gateway bound to ``tenant_id`` (default ``default``; each call may name another).

    ``provider`` and ``default_model`` name the LiteLLM model (``provider="openai",
    default_model="gpt-4"`` is ``openai/gpt-4``); ``api_key`` and ``api_base`` reach it;
    ``cache`` is a :func:`create_cache_mechanism` (default: in process); ``enable_caching``,
    ``cache_ttl``, ``rate_limit_config`` (``requests_per_minute``, ``burst_size``,
    ``tokens_per_minute``), ``validation_level`` and ``max_retries`` override the settings;
    ``enable_llmops`` keeps the usage and cost ledger (in process here; ``connect()`` keeps it in
    PostgreSQL). Anything left unset comes from ``MOTADATA_*`` variables.
    """
    from motadata_ai.api import create_gateway as build_gateway

    tenant = _tenant_of(tenant_id)
    base = settings if settings is not None else Settings()
    model = _model_name(provider, default_model, base.llm_model)
    resolved = _settings_with(
        base,
        llm_model=model,
        llm_api_key=api_key,
        llm_api_base=api_base,
        embedding_model=embedding_model,
        enable_caching=enable_caching,
        cache_ttl=cache_ttl,
        validation_level=validation_level,
        max_retries=max_retries,
        **_rate_limits(rate_limit_config),
    )
    if cache is not None:
        ports["cache"] = cache
    if enable_llmops and "ledger" not in ports:
        from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger

        ports["ledger"] = InMemoryUsageLedger()
    return TenantGateway(build_gateway(tenant_id=tenant, settings=resolved, **ports), tenant_id=tenant)


def _core_gateway(gateway: Any) -> Gateway:
    if gateway is None:
        raise ValidationError("gateway is required (create one with create_gateway(...))", field="gateway")
    return gateway.core if isinstance(gateway, TenantGateway) else gateway  # type: ignore[no-any-return]


# --- the database and the cache -----------------------------------------------------------------


class Database:
    """A PostgreSQL + pgvector database for the function API (or, without a DSN, the configured
    profile's: the embedded PostgreSQL on ``local``). It opens on the first awaited call that
    needs it, through :func:`motadata_ai.connect`, and gives the RAG, agent and ML objects built
    on it their stores; ``await db.aclose()`` (or ``async with db:``) closes it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack: contextlib.AsyncExitStack | None = None
        self._ai: AI | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def dsn(self) -> str | None:
        """The DSN with its password masked (``None``: the profile's own database)."""
        from motadata_ai.domain.values.addresses import mask_url

        secret = self.settings.postgres_dsn
        return mask_url(secret.get_secret_value()) if secret is not None else None

    async def connect(self) -> AI:
        """The connected SDK over this database (opened on first use)."""
        if self._ai is not None:
            return self._ai
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._ai is None:
                from motadata_ai.api import connect

                stack = contextlib.AsyncExitStack()
                self._ai = await stack.enter_async_context(connect(self.settings, warm_up=False))
                self._stack = stack
        return self._ai

    async def similarity_search(
        self,
        embedding: Sequence[float],
        *,
        tenant_id: str,
        top_k: int = 5,
        threshold: float | None = None,
        table: str | None = None,
    ) -> list[Any]:
        """The ``top_k`` stored chunks of ``tenant_id`` nearest ``embedding`` scoring at least
        ``threshold`` (cosine). ``table`` is accepted for the document's signature: the SDK keeps
        every tenant's chunks in its one vector store."""
        ai = await self.connect()
        return list(
            await ai.port("vector_store").dense_search(
                TenantContext(tenant_id=tenant_id), list(embedding), top_k=top_k, min_score=threshold
            )
        )

    async def health_check(self) -> dict[str, Any]:
        """``{"status": "ok"}`` when a query answers, else ``unavailable`` with the error."""
        try:
            ai = await self.connect()
            await ai.port("vector_store").dense_search(
                TenantContext(tenant_id="motadata-health"),
                (0.0,) * (self.settings.embedding_dimensions - 1) + (1.0,),
                top_k=1,
            )
        except Exception as error:  # health reports, it does not raise
            return {"status": "unavailable", "error": type(error).__name__, "message": str(error)}
        return {"status": "ok", "profile": self.settings.profile, "dsn": self.dsn}

    async def aclose(self) -> None:
        """Close the pool (and the embedded server this handle started)."""
        stack, self._stack, self._ai = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def create_database_connection(
    config: Mapping[str, Any] | str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    user: str | None = None,
    password: str | None = None,
    dsn: str | None = None,
    settings: Settings | None = None,
) -> Database:
    """A database handle: a DSN (``config`` as a string, or ``dsn=``), or ``host``/``port``/
    ``database``/``user``/``password`` (also as a ``config`` mapping); with none of them, the
    configured profile's database (``MOTADATA_POSTGRES_DSN`` or the embedded one)."""
    if isinstance(config, str):
        dsn = dsn or config
    elif config is not None:
        allowed = {"host", "port", "database", "user", "password", "dsn"}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ValidationError(f"unknown database options {unknown}", field="config")
        dsn = dsn or config.get("dsn")
        host = host or config.get("host")
        port = port or config.get("port")
        database = database or config.get("database")
        user = user or config.get("user")
        password = password or config.get("password")
    if dsn is None and host is not None:
        credentials = ""
        if user is not None:
            credentials = quote(user, safe="")
            if password is not None:
                credentials += ":" + quote(password, safe="")
            credentials += "@"
        name = quote(database or "postgres", safe="")
        if host.startswith("/"):  # a Unix socket directory
            dsn = f"postgresql://{credentials}/{name}?host={quote(host)}&port={port or 5432}"
        else:
            dsn = f"postgresql://{credentials}{host}:{port or 5432}/{name}"
    elif dsn is None and any(v is not None for v in (port, database, user, password)):
        raise ValidationError("give host (or a dsn) with port, database, user and password", field="host")
    if dsn is not None and not dsn.startswith(("postgresql://", "postgres://")):
        raise ValidationError("the DSN must start with postgresql://", field="dsn")
    overrides: dict[str, Any] = {"profile": "services", "postgres_dsn": dsn} if dsn is not None else {}
    return Database(_settings_with(settings, **overrides))


def create_cache_mechanism(
    backend: Literal["memory", "redis"] = "memory",
    config: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
) -> Any:
    """A cache for :func:`create_gateway` and :func:`create_ml_system`: ``memory`` (an in-process
    LRU; ``config``: ``max_entries``, ``max_bytes``) or ``redis`` (``config``: ``url``, or
    ``host``/``port``/``db``/``password``, and ``timeout``)."""
    config = dict(config or {})
    if backend == "memory":
        from motadata_ai.adapters.memory.cache import InMemoryCache

        resolved = settings or Settings()
        return InMemoryCache(
            max_entries=int(config.pop("max_entries", resolved.cache_max_entries)),
            max_bytes=int(config.pop("max_bytes", resolved.cache_max_bytes)),
        )
    if backend == "redis":
        from motadata_ai.adapters.redis.cache import RedisCache

        url = config.pop("url", None)
        if url is None:
            password = config.pop("password", None)
            auth = f":{quote(str(password), safe='')}@" if password else ""
            host, port, index = config.pop("host", "localhost"), config.pop("port", 6379), config.pop("db", 0)
            url = f"redis://{auth}{host}:{port}/{index}"
        timeout = float(config.pop("timeout", (settings or Settings()).redis_timeout))
        if config:
            raise ValidationError(f"unknown redis cache options {sorted(config)}", field="config")
        return RedisCache.from_url(str(url), timeout=timeout)
    raise ConfigurationError(f"unknown cache backend {backend!r} (backends: memory, redis)", field="backend")


def _default_database(db: Database | None) -> Database:
    return db if db is not None else create_database_connection()


# --- RAG ----------------------------------------------------------------------------------------


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


# --- agents -------------------------------------------------------------------------------------


def _memory_config(memory_config: Any, settings: Settings) -> Any:
    from motadata_ai.domain.values.memory import MemoryConfig

    if memory_config is None or isinstance(memory_config, MemoryConfig):
        return memory_config
    base = {
        "max_episodic": settings.max_episodic,
        "max_semantic": settings.max_semantic,
        "max_age_days": settings.max_age_days,
    }
    return MemoryConfig.model_validate({**base, **dict(memory_config)})


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
    return await agent.chat(message, conversation_id=conversation_id, user_id=user_id)  # type: ignore[no-any-return]


# --- ML -----------------------------------------------------------------------------------------


class FunctionMLSystem:
    """A tenant's ML system on a :class:`Database`, built on first use (``train``, ``predict``,
    ``promote`` ... are the :class:`~motadata_ai.domain.ml.system.MLSystem`'s own)."""

    def __init__(self, *, db: Database, tenant_id: str, options: dict[str, Any]) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self._options = options
        self._system: MLSystem | None = None

    async def system(self) -> MLSystem:
        """The ML system (built on the first call)."""
        if self._system is None:
            from motadata_ai.api import create_ml_system as build_ml

            ai = await self.db.connect()
            options = dict(self._options)
            options.setdefault("cache", ai.port("cache"))
            self._system = build_ml(
                tenant_id=self.tenant_id,
                registry=ai.port("model_registry"),
                experiments=ai.port("experiments"),
                artifacts=ai.port("artifacts"),
                prediction_log=ai.port("prediction_log"),
                trainers=ai.container.trainers(),
                bus=ai.port("bus"),
                settings=ai.settings,
                **options,
            )
        return self._system

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = getattr(await self.system(), name)(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        call.__name__ = name
        return call


def create_ml_system(
    *,
    db: Database | None = None,
    tenant_id: str | TenantContext | None = None,
    max_memory_mb: int | None = None,
    cache: Any = None,
    enable_gpu: bool | None = None,
    **options: Any,
) -> FunctionMLSystem | MLSystem:
    """A tenant's ML system with its registry, experiments and artifacts on ``db`` (default: the
    configured profile's database). ``max_memory_mb`` bounds the loaded models, ``cache`` (a
    :func:`create_cache_mechanism`) caches predictions, ``enable_gpu`` trains PyTorch models on
    CUDA. Given the ports (``registry=``, ``experiments=`` ...) instead of ``db``, the system is
    built at once over them (:func:`motadata_ai.api.create_ml_system`)."""
    tenant = TenantContext.of(tenant_id).tenant_id if tenant_id is not None else DEFAULT_TENANT
    if max_memory_mb is not None:
        options["max_memory_mb"] = max_memory_mb
    if enable_gpu is not None:
        options["enable_gpu"] = enable_gpu
    if cache is not None:
        options["cache"] = cache
    if "registry" in options:
        from motadata_ai.api import create_ml_system as build_ml

        return build_ml(tenant_id=tenant, **options)
    return FunctionMLSystem(db=_default_database(db), tenant_id=tenant, options=options)


# --- the unified query --------------------------------------------------------------------------


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
