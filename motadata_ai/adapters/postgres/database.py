"""PostgresDatabase: the shared asyncpg pool (with pgvector) that every PostgreSQL store builds on.

Usage by a store adapter (documents, memory, model registry, usage ledger, vectors)::

    from motadata_ai.adapters.postgres.database import PostgresDatabase

    db = await PostgresDatabase.connect("postgresql://user:pw@host:5432/db", min_size=1, max_size=10)

    MIGRATIONS = [  # (version, name, sql); never edit an applied one, append a new version
        (1, "create documents", "CREATE TABLE IF NOT EXISTS motadata_documents (...)"),
        (2, "index by user", "CREATE INDEX IF NOT EXISTS ... ON motadata_documents (tenant_id, user_id)"),
    ]
    await db.apply_migrations("documents", MIGRATIONS)   # idempotent, safe for concurrent starters

    with db.translate_errors(DocumentStoreUnavailable, DocumentStoreError, tenant_id=tenant.tenant_id):
        async with db.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("INSERT ...", ...)

    await db.close()

- ``connect`` creates the pool; every connection has the pgvector codecs registered (``vector``
  and ``halfvec`` columns read and write ``pgvector.Vector`` / lists / numpy arrays), and the
  ``vector`` extension is created on first use (``CREATE EXTENSION IF NOT EXISTS vector`` under an
  advisory lock). JIT compilation is switched off per session: it only adds latency to the short
  queries these stores run. ``lazy=True`` opens no connection until the first ``acquire``.
- ``apply_migrations(component, migrations)`` applies each pending ``(version, name, sql)`` in its
  own transaction under a per-component advisory lock and records it in
  ``schema_migrations(component, version, name, applied_at)``; see
  :mod:`motadata_ai.adapters.postgres.migrations`.
- ``translate_errors(unavailable, failure, **fields)`` maps asyncpg and socket errors to the
  calling port's errors: connection-level failures (refused, reset, timed out, server shutting
  down, authentication) become ``unavailable(..., address=<masked dsn>)``, any other database
  error becomes ``failure(...)``. No asyncpg exception type leaves a store.
- ``address`` is the DSN with its password masked, for errors and logs.
- Connection failures at ``connect`` raise :class:`PostgresUnavailable` (a ``StoreUnavailable``).
- ``read_dsns`` at ``connect`` adds streaming replicas: ``read(fn, tenant_id=...)`` runs a read on
  one (:mod:`motadata_ai.adapters.postgres.replicas` says which, and when the primary instead), and
  ``record_write(tenant_id)`` after a committed write keeps that tenant's reads on the primary
  until a replica has replayed it. Without replicas both go to the primary's pool.
- :class:`MigratedStore` is the base of a store whose tables come from one migration component:
  ``setup()`` applies the migrations once (under a lock, on first use), with errors translated to
  the store's port errors.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import asyncpg
from pgvector.asyncpg import register_vector

from motadata_ai.adapters.defaults import MAX_REPLICA_LAG, POOL_MAX, POOL_MIN
from motadata_ai.adapters.postgres._health import probe_database
from motadata_ai.adapters.postgres._tracing import QueryTracer
from motadata_ai.adapters.postgres.errors import PostgresError, PostgresUnavailable
from motadata_ai.adapters.postgres.migrations import Migration, apply_migrations
from motadata_ai.adapters.postgres.replicas import ReplicaRouter
from motadata_ai.adapters.postgres.session_reset import SessionConnection
from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.errors import (
    ConfigurationError,
    MotadataError,
)
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.ports.telemetry import TelemetryPort

__all__ = [
    "MigratedStore",
    "PostgresDatabase",
    "PostgresError",
    "PostgresUnavailable",
    "is_connection_error",
    "is_rerouted_row",
]


_CONNECTION_SQLSTATE_CLASSES = ("08", "28", "53", "57", "3D")  # connection, auth, resources, shutdown, no db


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the server is unreachable (as opposed to a failing statement)."""
    if isinstance(exc, OSError | asyncio.TimeoutError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError | asyncpg.exceptions.InternalClientError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state[:2] in _CONNECTION_SQLSTATE_CLASSES
    return False


def is_rerouted_row(exc: BaseException) -> bool:
    """Whether ``exc`` is a row that a statement routed to a default partition which a concurrent
    ``ATTACH PARTITION`` (a tenant's promotion) closed to it before the statement could write it.

    PostgreSQL chooses a row's partition from the partitions it sees when the statement starts;
    if the statement then waits on a lock the attaching transaction holds, it writes into the
    default partition afterwards only if the row still belongs there, and otherwise fails with
    "violates partition constraint" (a check violation without a constraint name; a table's own
    CHECK constraints have one). The transaction run again routes the row to the new partition."""
    return (
        isinstance(exc, asyncpg.PostgresError)
        and getattr(exc, "sqlstate", None) == "23514"
        and not getattr(exc, "constraint_name", None)
    )


_VECTOR_LOCK = "motadata_ai.create_extension_vector"
T = TypeVar("T")


async def _prepare_connection(conn: asyncpg.Connection, tracer: QueryTracer | None = None) -> None:
    if tracer is not None:
        tracer.attach(conn)
    try:
        await register_vector(conn)
    except ValueError as exc:
        if "unknown type" not in str(exc):
            raise
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1), 0)", _VECTOR_LOCK)
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await conn.reload_schema_state()
        await register_vector(conn)


@dataclass(frozen=True)
class HotStatement:
    """A statement that every request runs, for :meth:`PostgresDatabase.prepare_statements`:
    ``sql`` exactly as the store sends it, and optionally a ``probe``, arguments that match no row
    (the statement is then also run once with them)."""

    sql: str
    probe: tuple[Any, ...] | None = None


class PostgresDatabase:
    """An asyncpg pool with pgvector codecs, migrations and error translation (see module doc)."""

    def __init__(self, pool: asyncpg.Pool, *, address: str, tracer: QueryTracer | None = None) -> None:
        """Wrap an existing pool; prefer :meth:`connect`."""
        self._pool = pool
        self._address = address
        self._closed = False
        self._tracer = tracer
        self._router: ReplicaRouter | None = None

    def instrument(self, telemetry: TelemetryPort | None) -> None:
        """Record a database span for every query from now on (see
        :mod:`~motadata_ai.adapters.postgres._tracing`); ``None`` stops it."""
        if self._tracer is not None:
            self._tracer.telemetry = telemetry

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int = POOL_MIN,
        max_size: int = POOL_MAX,
        lazy: bool = False,
        connect_timeout: float = 10.0,
        server_settings: dict[str, str] | None = None,
        read_dsns: Sequence[str] = (),
        max_replica_lag: float = MAX_REPLICA_LAG,
    ) -> PostgresDatabase:
        """Open a pool to ``dsn``; raise :class:`PostgresUnavailable` naming the masked address.

        ``read_dsns`` name streaming replicas for reads (pools opened lazily, so a replica that is
        down at start costs nothing: reads go to the primary until it answers); a replica more
        than ``max_replica_lag`` seconds behind is skipped.
        """
        if not isinstance(dsn, str) or not dsn:
            raise ConfigurationError("a PostgreSQL DSN (postgresql://...) is required", field="postgres_dsn")
        if min_size < 0 or max_size < 1 or min_size > max_size:
            raise ConfigurationError(
                "pool sizes must satisfy 0 <= min_size <= max_size and max_size >= 1; "
                f"got min_size={min_size}, max_size={max_size}",
                field="postgres_pool",
            )
        address = mask_url(dsn)
        settings = {"jit": "off", "application_name": "motadata-ai"}
        settings.update(server_settings or {})
        tracer = QueryTracer()
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=0 if lazy else min_size,
                max_size=max_size,
                timeout=connect_timeout,
                init=functools.partial(_prepare_connection, tracer=tracer),
                server_settings=settings,
                connection_class=SessionConnection,
            )
        except MotadataError:
            raise
        except Exception as exc:
            if isinstance(exc, asyncpg.PostgresError) and not is_connection_error(exc):
                missing = asyncpg.exceptions.InsufficientPrivilegeError | asyncpg.UndefinedFileError
                if isinstance(exc, missing):
                    raise ConfigurationError(
                        f"the pgvector extension is not available in PostgreSQL at {address}: {exc}",
                        address=address,
                    ) from exc
            raise PostgresUnavailable(
                f"cannot connect to PostgreSQL at {address}: {type(exc).__name__}: {exc}", address=address
            ) from exc
        assert pool is not None
        database = cls(pool, address=address, tracer=tracer)
        if read_dsns:
            replicas = [
                await cls.connect(
                    read_dsn, min_size=min_size, max_size=max_size, lazy=True,
                    connect_timeout=min(connect_timeout, 2.0), server_settings=server_settings,
                )
                for read_dsn in read_dsns
            ]
            database._router = ReplicaRouter(database, replicas, max_lag=max_replica_lag)
        return database

    @property
    def replicas(self) -> ReplicaRouter | None:
        """The read-replica router, when ``read_dsns`` were given."""
        return self._router

    async def read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, tenant_id: str | None) -> T:
        """Run the read ``fn(connection)``: on a replica when one is eligible for ``tenant_id``
        (see :mod:`~motadata_ai.adapters.postgres.replicas`), else on the primary. ``fn`` may run
        twice (again on the primary after its replica failed), so it must only read."""
        if self._router is not None:
            return await self._router.read(fn, tenant_id=tenant_id)
        async with self._pool.acquire() as conn:
            return await fn(conn)

    @asynccontextmanager
    async def writing(self, tenant_id: str | None) -> AsyncIterator[None]:
        """Around a write of ``tenant_id``: :meth:`record_write` once the block has completed
        (after its transaction committed, when the transaction is opened inside the block)."""
        yield
        await self.record_write(tenant_id)

    async def record_write(self, tenant_id: str | None) -> None:
        """After a committed write of ``tenant_id`` (``None``: a schema change): keep its reads on
        the primary until a replica has replayed the write (nothing to do without replicas)."""
        if self._router is not None:
            await self._router.record_write(tenant_id)

    async def open_connections(self, count: int) -> int:
        """Open the pool's connections up to ``count`` (at most its maximum) before they are needed,
        each with its codecs registered; returns the pool's size then.

        A request runs several statements at once (the dense and keyword searches, the usage
        ledger, the audit log); each connection the pool opens for it costs a connection start
        and the pgvector type introspection, about 35 ms of the first request after start-up.
        """
        wanted = min(count, self._pool.get_max_size())
        if wanted <= self._pool.get_size():
            return int(self._pool.get_size())
        held: list[asyncpg.Connection] = []

        async def hold() -> None:
            held.append(await self._pool.acquire())

        try:
            await asyncio.gather(*(hold() for _ in range(wanted)))  # the idle ones, then new ones
        finally:
            for conn in held:
                await self._pool.release(conn)
        return int(self._pool.get_size())

    async def prepare_statements(self, statements: Sequence[HotStatement]) -> int:
        """Prepare ``statements`` on every open connection of the pool, into the connection's
        statement cache; returns how many connections were prepared.

        asyncpg prepares a statement on a connection the first time that connection runs it (a
        parse and describe round trip, and type introspection), so each of a request's statements
        paid that once per pooled connection. A statement without a probe goes through
        ``executemany`` with no rows: prepared and cached exactly as a real call caches it,
        executed for no row. A statement with a probe (arguments that match no row, such as a
        tenant that holds no data) is also run once with them, so that the connection's server
        process has planned it (its catalog and statistics caches for those tables filled).
        Nothing of any tenant is read or written.
        """
        if not statements:
            return 0
        held: list[asyncpg.Connection] = []

        async def hold() -> None:
            held.append(await self._pool.acquire())

        try:
            await asyncio.gather(*(hold() for _ in range(self._pool.get_idle_size())))
            for conn in held:
                for statement in statements:
                    if statement.probe is None:
                        await conn.executemany(statement.sql, [])
                    else:
                        await conn.fetch(statement.sql, *statement.probe)
        finally:
            for conn in held:
                await self._pool.release(conn)
        return len(held)

    @property
    def pool(self) -> asyncpg.Pool:
        """The asyncpg pool (connections carry the pgvector codecs)."""
        return self._pool

    @property
    def address(self) -> str:
        """The DSN with its password masked."""
        return self._address

    async def health(self, *, timeout: float = 2.0) -> ComponentHealth:
        """``SELECT 1`` on a pooled connection within ``timeout`` seconds, with the pool's usage;
        with read replicas, each replica's replay lag in ``details["replicas"]`` and ``degraded``
        when one is down or lags more than ``max_replica_lag`` (reads then skip it)."""
        report = await probe_database(self._pool, address=self._address, closed=self._closed, timeout=timeout)
        if report.status == "down" and not self._closed:
            self._expire_pooled_connections()  # after a restart, the next probe gets fresh ones
        if self._router is not None and not self._closed:
            lagging, replicas = await self._router.health_details()
            status = "degraded" if lagging and report.status == "ok" else report.status
            details = {**report.details, "replicas": replicas}
            report = report.model_copy(update={"status": status, "details": details})
        return report

    async def close(self) -> None:
        """Close every pooled connection (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._router is not None:
                await self._router.close()
            try:
                await asyncio.wait_for(self._pool.close(), timeout=10)
            except (TimeoutError, OSError):
                self._pool.terminate()

    async def apply_migrations(self, component: str, migrations: Sequence[Migration]) -> list[int]:
        """Apply the component's pending ``(version, name, sql)`` migrations; return those applied now."""
        with self.translate_errors(PostgresUnavailable, PostgresError, component=component):
            async with self._pool.acquire() as conn:
                applied = await apply_migrations(conn, component, migrations)
            await self.record_write(None)  # reads on replicas wait until they have the tables
            return applied

    @contextmanager
    def translate_errors(
        self,
        unavailable: type[MotadataError] = PostgresUnavailable,
        failure: type[MotadataError] = PostgresError,
        **fields: Any,
    ) -> Iterator[None]:
        """Re-raise asyncpg/socket errors as ``unavailable`` (unreachable) or ``failure`` (other)."""
        try:
            yield
        except PostgresUnavailable as exc:  # from a nested database call: re-raise as the caller's type
            if isinstance(exc, unavailable):
                raise
            raise unavailable(exc.message, **{**exc.fields, **fields}) from exc
        except PostgresError as exc:
            if isinstance(exc, failure):
                raise
            raise failure(exc.message, **{**exc.fields, **fields}) from exc
        except MotadataError:
            raise
        except Exception as exc:
            if is_connection_error(exc):
                self._expire_pooled_connections()
                raise unavailable(
                    f"PostgreSQL at {self._address} is unavailable: {type(exc).__name__}: {exc}",
                    address=self._address,
                    **fields,
                ) from exc
            if isinstance(exc, asyncpg.PostgresError):
                raise failure(
                    f"PostgreSQL at {self._address} failed: {type(exc).__name__}: {exc}",
                    address=self._address,
                    sqlstate=getattr(exc, "sqlstate", None),
                    **fields,
                ) from exc
            raise

    def _expire_pooled_connections(self) -> None:
        """After a connection error, replace every pooled connection on its next acquire.

        When the server restarts, each idle pooled connection is dead; without this every one of
        them would fail one more call before the pool noticed.
        """
        # ``Pool.expire_connections`` only bumps the pool's generation and never suspends; it is
        # run to completion here, so the very next acquire already sees it (a task would run
        # too late: an acquire with an idle connection at hand does not yield to the loop).
        expiring = self._pool.expire_connections()
        with suppress(StopIteration):
            expiring.send(None)
        expiring.close()

    async def __aenter__(self) -> PostgresDatabase:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class MigratedStore:
    """A store on a :class:`PostgresDatabase` whose tables are one migration component.

    Subclasses set ``component`` and ``migrations`` (and ``unavailable`` / ``failure``, the port
    errors that a failing migration raises) and call :meth:`setup` before their first query.
    """

    component: ClassVar[str]
    migrations: ClassVar[Sequence[Migration]]
    unavailable: ClassVar[type[MotadataError]] = PostgresUnavailable
    failure: ClassVar[type[MotadataError]] = PostgresError

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database
        self._ready = False
        self._setup_lock = asyncio.Lock()

    async def health(self) -> ComponentHealth:
        """The shared database's health (one ``SELECT 1``), naming this store's component."""
        report = await self._db.health()
        return report.model_copy(update={"details": {**report.details, "component": self.component}})

    async def setup(self) -> None:
        """Create or upgrade the tables (idempotent; also done before the first query)."""
        if self._ready:
            return
        async with self._setup_lock:
            if not self._ready:
                with self._db.translate_errors(self.unavailable, self.failure):
                    await self._db.apply_migrations(self.component, self.migrations)
                self._ready = True
