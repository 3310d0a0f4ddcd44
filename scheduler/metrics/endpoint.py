"""One process's (or one container's) own metrics, served on a port.

``flyte-celery metrics`` serves the deployment's state from Redis and the values of every
process writing to its ``PROMETHEUS_MULTIPROC_DIR``: one host. Where processes run in
containers (docker-compose, Kubernetes), pids repeat across containers, so each container
keeps its own directory and serves it here, with ``FLYTE_CELERY_METRICS_PORT`` set on its
``celery -A worker worker`` or ``beat``; the deployment's metrics still come from one
``flyte-celery metrics``.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["processes_registry", "serve_process_metrics"]


def processes_registry() -> CollectorRegistry:
    """The processes' own metrics, for an endpoint to serve.

    With ``PROMETHEUS_MULTIPROC_DIR`` set, those of every process writing there;
    otherwise this process's (its default registry).
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def serve_process_metrics(port: int, host: str = "127.0.0.1") -> Any:
    """Serve this process's metrics on ``host:port`` from a daemon thread; returns the server.

    With ``PROMETHEUS_MULTIPROC_DIR`` set, those of every process writing there.

    Raises:
        OSError: The port cannot be bound.
    """
    server, _ = start_http_server(port, addr=host, registry=processes_registry())
    return server
