"""A server run as a child process on a free loopback port, for tests and benchmarks.

:class:`ServerProcess` owns the lifecycle that the NATS and Valkey test servers share: a working
directory with a log file, ``start`` (or restart on the same port) waiting until the server is
ready, ``stop``, ``kill``, ``freeze``/``thaw`` (SIGSTOP/SIGCONT) and ``remove``. A subclass names
the command line and the readiness check. :func:`session_url` and :func:`server_factory` are the
bodies of the pytest fixtures that serve one server per session or private servers per test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, Self, TypeVar

__all__ = ["ServerProcess", "free_port", "server_factory", "session_url"]


_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now and that this process has not handed out before.

    The kernel may give the same port to two binds of port 0 in a row once the first socket is
    closed, so two servers of one cluster could otherwise be handed one port (a CI run's NATS
    cluster had a node's client port picked again as another node's route port). Should the
    process have been handed most of the ephemeral range, a repeat is returned after 100 draws
    rather than drawing forever."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            break
    _handed_out.add(port)
    return port


class _PortTaken(RuntimeError):
    """The server exited because one of its ports was taken."""


class ServerProcess(ABC):
    """A server child process on a loopback port, working in ``directory``, logging to a file.

    Subclasses set ``name`` (for messages), ``log_name`` and ``directory_prefix`` and implement
    :attr:`url`, :meth:`command` and :meth:`ready`.
    """

    name = "server"
    log_name = "server.log"
    directory_prefix = "motadata-test-server-"
    start_timeout = 20.0

    start_attempts = 3
    """Starts tried on fresh ports when the ports this object picked were taken meanwhile."""

    def __init__(self, binary: Path, directory: str | Path | None = None, *, port: int | None = None) -> None:
        self.binary = binary
        self.directory = Path(directory or tempfile.mkdtemp(prefix=self.directory_prefix))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._picked_ports = port is None
        self._started = False
        self.log_path = self.directory / self.log_name
        self._process: subprocess.Popen[bytes] | None = None

    def pick_ports(self) -> None:
        """Choose fresh free ports for a start whose ports were taken (subclasses with more
        listening ports re-pick those too)."""
        self.port = free_port()

    @property
    @abstractmethod
    def url(self) -> str:
        """The URL clients connect to."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that runs the server on ``self.port``."""

    @abstractmethod
    def ready(self, log_offset: int) -> bool:
        """``True`` once the server serves; ``log_offset`` is where this start's log output begins."""

    @property
    def running(self) -> bool:
        """``True`` while the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start (or restart on the same port and directory) and wait until ready; raise if not.

        A port picked by :func:`free_port` is free when picked, not when the server binds it:
        another process (an outgoing connection's ephemeral port, another test server) may take
        it in between. So a first start on ports this object picked itself, whose server exits
        with "address already in use", is tried again on fresh ports (``start_attempts`` in all);
        a port given by the caller, or a restart, keeps its port."""
        if self.running:
            return self
        attempt = 1
        while True:
            try:
                self._start_once()
            except _PortTaken as taken:
                if self._started or not self._picked_ports or attempt >= self.start_attempts:
                    raise RuntimeError(str(taken)) from None
                attempt += 1
                self.pick_ports()
            else:
                self._started = True
                return self

    def _start_once(self) -> None:
        if not os.access(self.binary, os.X_OK):
            self.binary.chmod(self.binary.stat().st_mode | 0o111)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                message = f"{self.name} exited with code {self._process.returncode}; log:\n{self.log_tail()}"
                if b"address already in use" in self._log_since(log_offset).lower():
                    raise _PortTaken(message)
                raise RuntimeError(message)
            if self.ready(log_offset):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready in {self.start_timeout} s; log:\n{self.log_tail()}")

    def log_contains(self, text: bytes, offset: int = 0) -> bool:
        """``True`` when the log from ``offset`` on contains ``text``."""
        return text in self._log_since(offset)

    def _log_since(self, offset: int) -> bytes:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return log.read()
        except OSError:
            return b""

    def exchange(self, send: bytes, size: int = 4096) -> bytes:
        """Connect to the port, send ``send`` (if any) and return the first bytes back (``b""`` on error)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                if send:
                    sock.sendall(send)
                return sock.recv(size)
        except OSError:
            return b""

    def log_tail(self) -> str:
        """The last 4000 characters of the log."""
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); ``start`` brings it back on the same port."""
        self.thaw()  # a suspended process would not act on SIGTERM
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

    def freeze(self) -> None:
        """Suspend the process (SIGSTOP): its port still accepts connections but nothing answers,
        as with a hung server; :meth:`thaw` resumes it."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a process suspended by :meth:`freeze` (SIGCONT)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        """Stop and delete the working directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class Startable(Protocol):
    """A server or a cluster of them: started, reached by ``url``, removed with its files."""

    @property
    def url(self) -> str:
        """Where clients connect."""

    def start(self) -> Self:
        """Start and wait until it answers."""

    def remove(self) -> None:
        """Stop and delete its files."""


S = TypeVar("S", bound=Startable)


def session_url(url_env: str, server_type: Callable[[], Startable]) -> Iterator[str]:
    """Body of a session fixture: ``$url_env`` when set, else a started server's URL (removed after)."""
    configured = os.environ.get(url_env)
    if configured:
        yield configured
        return
    server = server_type()
    try:  # a start that fails half-way (a cluster with some nodes up) is removed too
        server.start()
        yield server.url
    finally:
        server.remove()


def server_factory(server_type: Callable[[], S]) -> Iterator[Callable[[], S]]:
    """Generator body of a per-test fixture: ``factory()`` starts a private server; all are removed after."""
    servers: list[S] = []

    def factory() -> S:
        server = server_type()
        servers.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in servers:
            server.remove()
