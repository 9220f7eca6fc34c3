"""The function API's database and cache: :func:`create_database_connection` (a handle opened
on first use through :func:`motadata_ai.connect`) and :func:`create_cache_mechanism`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.functions._common import _settings_with
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.api import AI

__all__ = ["Database", "create_cache_mechanism", "create_database_connection"]


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
                TenantContext(tenant_id=tenant_id), embedding, top_k=top_k, min_score=threshold
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
