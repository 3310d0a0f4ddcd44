"""Which task types each connector deployment serves: ``ListAgents``, every ``pollInterval``.

A background thread (one per process, made on first use and again after a fork)
asks every deployment for its connectors, then again every poll interval. A
deployment that does not answer keeps the types it last reported: a connector
restarting for a minute does not send its task types elsewhere. A type several
deployments serve goes to the default one, else to the first by name.

Until the first round has asked every deployment, the answer is "not known yet"
(``None``): the scheduler then waits instead of routing a connector's type elsewhere.
A worker that meets a type it has not seen asks again at once (:meth:`Discovery.find`):
the scheduler routed it here because it saw it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from plugins.errors import RemoteCallError
from plugins.flytekit.service.calls import ConnectorCalls
from plugins.flytekit.service.config import ServiceConfig

__all__ = ["Discovered", "Discovery"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discovered:
    """A task type a deployment reported.

    Attributes:
        deployment: The deployment's name.
        is_sync: Its connector runs through ``ExecuteTaskSync``.
    """

    deployment: str
    is_sync: bool


class Discovery:
    """The task types the deployments report, refreshed in the background.

    Args:
        config: The service's deployments and poll interval.
        calls: The gRPC calls.
        wait: Waits between rounds; returns True to stop (injected by tests).
    """

    def __init__(
        self,
        config: ServiceConfig,
        calls: ConnectorCalls,
        wait: Callable[[timedelta], bool] | None = None,
    ) -> None:
        self._config = config
        self._calls = calls
        self._stop = threading.Event()
        self._wait = wait or (lambda pause: self._stop.wait(pause.total_seconds()))
        self._pid = -1
        self._lock = threading.Lock()
        self._fresh()

    def _fresh(self) -> None:
        # Per process: a forked child has neither the thread nor a usable lock state.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._started = False
        self._ready = threading.Event()
        self._by_deployment: dict[str, dict[str, bool]] = {}
        self._failing: set[str] = set()

    def _start(self) -> None:
        if self._pid != os.getpid():
            self._fresh()
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="connector-discovery", daemon=True).start()

    def types(self, wait: timedelta = timedelta(0)) -> dict[str, Discovered] | None:
        """Every discovered task type; ``None`` until the first round has asked everyone.

        Args:
            wait: How long to wait for the first round.
        """
        if not self._config.deployments:
            return {}
        self._start()
        if not self._ready.wait(max(0.0, wait.total_seconds())):
            return None
        return self._merged()

    def _merged(self) -> dict[str, Discovered]:
        with self._lock:
            reported = dict(self._by_deployment)
        found: dict[str, Discovered] = {}
        # The default deployment wins a type several report; then the first by name.
        for name in sorted(reported, key=lambda n: (n != "default", n), reverse=True):
            for task_type, is_sync in reported[name].items():
                found[task_type] = Discovered(name, is_sync)
        return found

    def answered(self, deployment: str) -> bool:
        """Whether ``deployment`` answers ``ListAgents`` now (it did in the last round)."""
        with self._lock:
            return deployment in self._by_deployment and deployment not in self._failing

    def find(self, task_type: str) -> Discovered | None:
        """Where ``task_type`` is served; asks every deployment again if nobody reported it.

        Raises:
            RemoteCallError: It is not found while a deployment does not answer
                (a system error, retried: that deployment may serve it).
        """
        found = (self.types() or {}).get(task_type)
        if found is not None:
            return found
        self.refresh()
        found = self._merged().get(task_type)
        if found is not None:
            return found
        with self._lock:
            never = set(self._config.deployments) - set(self._by_deployment)
            silent = sorted(self._failing | never)
        if silent:
            raise RemoteCallError(
                f"cannot tell which connector serves task type {task_type!r}: "
                f"{', '.join(repr(n) for n in silent)} did not answer ListAgents",
                code="ConnectorUnavailable",
            )
        return None

    def refresh(self) -> None:
        """Ask every deployment once (the background thread does, every poll interval)."""
        for name, deployment in self._config.deployments.items():
            try:
                agents = self._calls.list_agents(deployment)
            except RemoteCallError as exc:
                with self._lock:
                    first = name not in self._failing
                    self._failing.add(name)
                if first:
                    log.warning("connector discovery: %s (keeping its last known types)", exc)
                continue
            types: dict[str, bool] = {}
            for agent in agents:
                names = [c.name for c in agent.supported_task_categories]
                for task_type in names or list(agent.supported_task_types):
                    types[task_type] = agent.is_sync
            with self._lock:
                back = name in self._failing
                self._failing.discard(name)
                self._by_deployment[name] = types
            if back:
                log.info("connector discovery: %s at %s answers again", name, deployment.endpoint)

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:
                log.exception("connector discovery failed")
            self._ready.set()
            if self._wait(self._config.poll_interval):
                return

    def stop(self) -> None:
        """Stop the background thread after its current round."""
        self._stop.set()
