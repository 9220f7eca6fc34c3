"""The test servers start on fresh ports when a port they picked is taken before they bind it.

``free_port`` returns a port that is free when asked; another process may bind it before the
server does (an outgoing connection's ephemeral port, another test server). A CI run lost a whole
session this way: a Valkey cluster node's bus port was taken, the node exited with "Address
already in use" and every test on the cluster errored; another lost it when a NATS cluster node's
route port was taken and its retry picked a fresh client port but kept the taken route port. Here
the port is taken on purpose by a listening socket between picking and starting.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from motadata_ai.testing.servers.nats_cluster import NatsCluster
from motadata_ai.testing.servers.process import free_port, session_url
from motadata_ai.testing.servers.redis import ValkeyServer
from motadata_ai.testing.servers.redis_cluster import ClusterNode


@contextmanager
def taken(port: int) -> Iterator[None]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield


def test_free_port_never_hands_out_one_port_twice() -> None:
    """Binds of port 0 in a row may get the same port back once the first socket is closed (in
    2,000 plain binds here about a hundred repeats); two servers of one cluster must not share one."""
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)


@pytest.mark.nats
def test_a_session_server_that_fails_half_way_is_removed(tmp_path: Path) -> None:
    """A cluster whose last node cannot start leaves no running node and no files behind."""
    cluster = NatsCluster(directory=tmp_path / "cluster")
    cluster.nodes[2].binary = tmp_path / "missing-nats-server"
    fixture = session_url("MOTADATA_TEST_UNSET_URL", lambda: cluster)
    with pytest.raises(OSError):
        next(fixture)
    assert not any(node.running for node in cluster.nodes)
    assert not cluster.directory.exists()


@pytest.mark.redis
def test_a_server_whose_picked_port_is_taken_starts_on_another(tmp_path: Path) -> None:
    server = ValkeyServer(tmp_path)
    picked = server.port
    try:
        with taken(picked):
            server.start()
        assert server.running and server.port != picked
        assert server.exchange(b"PING\r\n").startswith(b"+PONG")
    finally:
        server.stop()


@pytest.mark.redis
def test_a_cluster_node_whose_bus_port_is_taken_starts_on_other_ports(tmp_path: Path) -> None:
    node = ClusterNode(tmp_path)
    picked = node.bus_port
    try:
        with taken(picked):
            node.start()
        assert node.running and node.bus_port != picked
    finally:
        node.stop()


@pytest.mark.redis
def test_a_port_given_by_the_caller_is_kept_and_the_failure_is_reported(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ValkeyServer(tmp_path, port=port)
    try:
        with taken(port), pytest.raises(RuntimeError, match=r"(?i)address already in use"):
            server.start()
        assert server.port == port and not server.running
    finally:
        server.stop()


@pytest.mark.nats
@pytest.mark.parametrize("index", [0, 2], ids=["first-node", "last-node"])
def test_a_nats_cluster_whose_route_port_is_taken_forms_on_other_ports(tmp_path: Path, index: int) -> None:
    """The node moves to fresh ports and every other node routes to its new cluster port, so the
    cluster still forms: ``start`` only returns once a stream replicated on all three nodes works."""
    cluster = NatsCluster(directory=tmp_path)
    node = cluster.nodes[index]
    picked = node.cluster_port
    try:
        with taken(picked):
            cluster.start()
        assert node.running and node.cluster_port != picked
        for other in cluster.nodes:
            assert other.running
            assert sorted(other.routes) == sorted(p.cluster_port for p in cluster.nodes if p is not other)
    finally:
        cluster.remove()


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_the_openai_server_binds_the_port_the_kernel_chooses(mode: str) -> None:
    """No free-port probe before the bind: two servers started at once each get their own port,
    and each answers on the port it reports."""
    import json
    import urllib.request

    from motadata_ai.testing.openai_server import OpenAIServer

    with OpenAIServer(mode=mode) as first, OpenAIServer(mode=mode) as second:
        assert first.port != second.port and 0 not in (first.port, second.port)
        for server in (first, second):
            with urllib.request.urlopen(f"{server.url}/models", timeout=5) as reply:
                assert "data" in json.loads(reply.read())


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_the_openai_server_on_a_taken_port_says_so(mode: str) -> None:
    from motadata_ai.testing.openai_server import OpenAIServer

    port = free_port()
    with taken(port), pytest.raises(RuntimeError, match=r"did not start|could not bind"):
        OpenAIServer(port=port, mode=mode).start()
