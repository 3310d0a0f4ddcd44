"""A real local Redis Cluster for the tests: masters with a replica each, on free ports.

Each node is a ``redis-server --cluster-enabled yes`` process; ``redis-cli --cluster
create`` joins them and gives every master a replica. :meth:`RedisCluster.fail_over` kills
the master that holds a key and waits for its replica to take its slots, as an operator's
cluster does after a master dies.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster as ClusterClient

from tests.helpers import wait_for

__all__ = ["RedisCluster"]


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _node_port() -> int:
    """A free port whose cluster bus port (10,000 above, at most 65,535) is free too."""
    for _ in range(200):
        port = random.randint(20_000, 45_000)
        if _free(port) and _free(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


@dataclass
class RedisCluster:
    """A local cluster and its processes.

    Attributes:
        directory: Where the nodes keep their logs and cluster files.
        processes: Each node's process, by port.
        replicas: Replicas per master.
    """

    directory: Path
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    replicas: int = 0

    @classmethod
    def start(cls, directory: Path, masters: int = 3, replicas: int = 1) -> RedisCluster:
        """Start ``masters`` masters with ``replicas`` replicas each; wait until it serves."""
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server and redis-cli are needed (apt-get install redis)")
        cluster = cls(directory)
        try:
            for _ in range(masters * (1 + replicas)):
                cluster._start_node(binary)
            nodes = [f"127.0.0.1:{port}" for port in cluster.processes]
            subprocess.run(
                [cli, "--cluster", "create", *nodes, "--cluster-replicas", str(replicas),
                 "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            cluster.replicas = replicas
            wait_for(cluster._formed, timeout=60, what="every slot served, with its replicas")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start_node(self, binary: str) -> None:
        port = _node_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", "1000", "--save", "", "--appendonly", "no",
                "--logfile", str(self.directory / f"node-{port}.log")]  # fmt: skip
        self.processes[port] = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def answers() -> bool:
            with redis.Redis(port=port, socket_timeout=1) as node:
                try:
                    return bool(node.ping())
                except redis.ConnectionError:
                    return False

        wait_for(answers, timeout=30, what=f"node {port} to answer")

    def _alive(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def _serves(self) -> bool:
        for port in self._alive():
            with redis.Redis(port=port, socket_timeout=1) as node:
                try:
                    info = node.cluster("info")
                except redis.RedisError:
                    return False
                if info.get("cluster_state") != "ok":
                    return False
        return True

    def _formed(self) -> bool:
        if not self._serves():
            return False
        # Replicas attach after the cluster forms: wait until each range has its own.
        with redis.Redis(port=self._alive()[0], socket_timeout=1) as node:
            ranges = node.execute_command("CLUSTER", "SLOTS")
        return all(len(entry) - 2 >= 1 + self.replicas for entry in ranges)

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        """The live nodes, as redis-py's cluster client takes them."""
        return [ClusterNode("127.0.0.1", port) for port in self._alive()]

    @property
    def url(self) -> str:
        """``FLYTE_CELERY_REDIS_URL`` for the cluster: every live node, as startup nodes."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self._alive())

    def client(self) -> ClusterClient:
        """A new cluster client (it follows MOVED and ASK redirects itself)."""
        return ClusterClient(startup_nodes=self.startup_nodes, socket_timeout=5)

    def master_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot now."""
        with self.client() as client:
            node = client.get_node_from_key(key)
            assert node is not None
            return int(node.port)

    def fail_over(self, key: str) -> int:
        """Kill the master holding ``key`` and wait for a replica to serve its slots.

        Returns:
            The killed master's port.
        """
        port = self.master_of(key)
        process = self.processes[port]
        process.kill()
        process.wait(10)
        wait_for(self._serves, timeout=60, what="a replica to take the dead master's slots")
        deadline = time.monotonic() + 60
        while self.master_of(key) == port and time.monotonic() < deadline:
            time.sleep(0.1)
        return port

    def _node_ids(self) -> dict[int, tuple[str, bool]]:
        """Each live node's id and whether it is a master, by port."""
        with redis.Redis(port=self._alive()[0], socket_timeout=5) as node:
            lines = node.execute_command("CLUSTER", "NODES").decode().splitlines()
        found = {}
        for line in lines:
            fields = line.split()
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            if "fail" not in fields[2]:
                found[port] = (fields[0], "master" in fields[2])
        return found

    def move_slot(self, key: str, halfway: Callable[[], None] = lambda: None) -> int:
        """Move ``key``'s slot, with its keys, to another master, as a reshard does.

        Half the slot's keys move, then ``halfway`` runs (clients meet ASK redirects then:
        a key may be on either node), then the rest move and every node is told the new
        owner (clients then meet MOVED).

        Returns:
            The port of the master that owns the slot now.
        """
        source = self.master_of(key)
        ids = self._node_ids()
        target = next(p for p, (_, master) in ids.items() if master and p != source)
        with redis.Redis(port=source) as src, redis.Redis(port=target) as dst:
            slot = int(src.execute_command("CLUSTER", "KEYSLOT", key))
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source][0])
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target][0])
            keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1_000_000)
            for part, run_after in ((keys[: len(keys) // 2], halfway), (None, lambda: None)):
                batch = (
                    part
                    if part is not None
                    else (src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1_000_000))
                )
                if batch:
                    src.execute_command(
                        "MIGRATE", "127.0.0.1", target, "", 0, 10_000, "KEYS", *batch
                    )
                run_after()
            for port, (_, master) in ids.items():
                if master:
                    with redis.Redis(port=port) as node:
                        node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target][0])
        return target

    def stop(self) -> None:
        """Stop every node."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
