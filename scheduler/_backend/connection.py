"""The deployment's Redis client: one server, or a Redis Cluster.

``FLYTE_CELERY_REDIS_URL`` names a Redis Cluster with the scheme ``redis+cluster://`` (or
``rediss+cluster://`` for TLS), or by naming several startup nodes, comma-separated::

    redis+cluster://10.0.0.1:7000
    redis://:password@10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000

redis-py's cluster client then finds every node, sends each command to the master of its
key's slot, follows MOVED and ASK redirects, and learns the new map after a failover.
Every flyte-celery script touches one slot (a shard's keys share a hash tag, and so do a
quota namespace's), so each runs on one node. The client is typed as ``Redis``: both
answer the commands flyte-celery uses alike.
"""

from __future__ import annotations

import threading
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis import Redis
from redis._parsers.encoders import Encoder
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.exceptions import AskError, RedisClusterException

from plugins.errors import ConfigError
from scheduler.settings import CLUSTER_SCHEMES, is_cluster_url

__all__ = ["LazyCluster", "connect", "node_of_a_cluster"]

_REDIRECTS = ("MOVED ", "ASK ")


def node_of_a_cluster(exc: BaseException) -> str:
    """What to say when a plain Redis client met a cluster's redirect ("" if it did not).

    A ``redis://`` URL of one node of a Redis Cluster reaches that node only: every key of
    another node's slots is answered MOVED. That is a setting to fix, not an outage.
    """
    redirected = isinstance(exc, AskError)  # MOVED is a kind of ASK in redis-py
    if redirected or (isinstance(exc, redis.ResponseError) and str(exc).startswith(_REDIRECTS)):
        return (
            "FLYTE_CELERY_REDIS_URL names one node of a Redis Cluster as a single Redis "
            f"(it redirected a key: {exc}): name the cluster, redis+cluster://host:port"
        )
    return ""


def _node(address: str) -> ClusterNode:
    host, colon, port = address.rpartition(":")
    if not colon or host.endswith(":"):  # no port, or an IPv6 address without one
        host, port = address, "6379"
    if not host or not port.isdigit():
        raise ConfigError(f"a Redis Cluster node must be host:port, got {address!r}")
    return ClusterNode(host.strip("[]"), int(port))  # type: ignore[no-untyped-call]


def connect(url: str, **options: Any) -> Redis:
    """A client of the Redis (or Redis Cluster) that ``url`` names.

    Args:
        url: A ``redis://``, ``rediss://`` or ``unix://`` URL, or a cluster's (above).
        options: redis-py connection options (timeouts, keepalive).

    Raises:
        ConfigError: A cluster URL names a database other than 0, or a malformed node.
    """
    if not is_cluster_url(url):
        return Redis.from_url(url, **options)
    parts = urlsplit(url)
    if parts.path.strip("/") not in ("", "0"):
        raise ConfigError(f"a Redis Cluster has only database 0, not {parts.path.strip('/')!r}")
    user, at, hosts = parts.netloc.rpartition("@")
    nodes = [_node(address) for address in hosts.split(",") if address]
    if not nodes:
        raise ConfigError("a Redis Cluster URL must name at least one node")
    scheme = CLUSTER_SCHEMES.get(parts.scheme, parts.scheme)
    first = urlunsplit((scheme, f"{user}{at}{nodes[0].host}:{nodes[0].port}", "", parts.query, ""))
    return cast(Redis, LazyCluster(first, nodes, options))


class LazyCluster:
    """A Redis Cluster client, made on first use (a command, a pipeline).

    Args:
        url: The first node's URL (its credentials and TLS options apply to every node).
        nodes: Every startup node.
        options: redis-py connection options.
    """

    def __init__(self, url: str, nodes: list[ClusterNode], options: dict[str, Any]) -> None:
        self._url, self._nodes, self._options = url, nodes, options
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    def _made(self) -> RedisCluster:
        with self._lock:
            if self._client is None:
                try:
                    self._client = RedisCluster.from_url(
                        self._url, startup_nodes=self._nodes, **self._options
                    )
                except RedisClusterException as exc:  # no node answers: Redis is away
                    raise redis.ConnectionError(str(exc)) from exc
            return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    def get_encoder(self) -> Encoder:
        """How commands' arguments are encoded (no connection needed: scripts' digests)."""
        decode = bool(self._options.get("decode_responses"))
        return Encoder("utf-8", "strict", decode)  # type: ignore[no-untyped-call]

    def get_connection_kwargs(self) -> dict[str, Any]:
        """The connection options."""
        return dict(self._options)

    def register_script(self, script: str) -> Script:
        """A script run through this client (made when first run)."""
        return Script(cast(Redis, self), script)

    def close(self) -> None:
        """Close the cluster's connections, if it was ever reached."""
        if self._client is not None:
            self._client.close()
