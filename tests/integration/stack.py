"""Real flyte-celery processes for the integration tests: workers, beats, Flower."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plugins.core import PluginRegistry
from scheduler import Client, Settings
from scheduler._runtime import Runtime
from tests.helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]

PLUGIN_CONFIG = {
    "http-job": {
        "resourceQuotas": {"default": 2},
        "caching": {"resyncInterval": "5s", "maxSystemFailures": 2},
    },
    "http-job-capped": {"resourceQuotas": {"default": 6}, "caching": {"resyncInterval": "5s"}},
    "http-job-limited": {
        "writeRateLimiter": {"qps": 2, "burst": 5},
        "caching": {"resyncInterval": "5s"},
    },
    "flaky-create": {"caching": {"resyncInterval": "5s"}},
}


@dataclass
class Stack:
    """A deployment of flyte-celery processes sharing one Redis and one storage root."""

    redis_url: str
    directory: Path
    job_service_url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"it{uuid.uuid4().hex[:8]}")
    plugins: str = "tests.integration.plugins:ENTRIES,tests.integration.plugins:MORE"
    overrides: dict[str, Any] = field(default_factory=dict)
    plugin_sections: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # for every process started after
    clients: list[Client] = field(default_factory=list)  # made by client(), closed by stop()

    def __post_init__(self) -> None:
        self.config_file = self.directory / "plugins.yaml"
        self.config_file.write_text(yaml.safe_dump({**PLUGIN_CONFIG, **self.plugin_sections}))
        self.settings = Settings(
            redis_url=self.redis_url,
            storage=f"file://{self.directory / 'storage'}",
            plugins=self.plugins,
            plugin_config=self.config_file,
            key_prefix=self.prefix,
            queue_prefix=self.prefix,
            visibility_timeout=5,  # type: ignore[arg-type]
            leader_lease=3,  # type: ignore[arg-type]
            token_lease=15,  # type: ignore[arg-type]
            tick_interval=0.5,  # type: ignore[arg-type]
            system_retry_backoff=0.2,  # type: ignore[arg-type]
            run_lease=3,  # type: ignore[arg-type]
        )
        if self.overrides:
            self.settings = Settings(**{**self.settings.model_dump(), **self.overrides})

    @property
    def env(self) -> dict[str, str]:
        env = self.settings.child_environment()
        env["JOB_SERVICE_URL"] = self.job_service_url
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        return env

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        handle = self.log(name).open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", *args],
            cwd=ROOT,
            env=env or self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL reaches the pool children too
        )
        handle.close()
        self.processes[name] = process
        return process

    def start_worker(
        self, name: str, concurrency: int = 2, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        process = self._spawn(
            name,
            ["worker", "-l", "INFO", "-c", str(concurrency), "-n", f"{name}-{self.prefix}@%h",
             "--without-mingle", "--without-gossip"],
            env={**self.env, **(env or {})},
        )  # fmt: skip
        self.wait_log(name, "ready.")
        return process

    def wait_log(self, name: str, text: str, timeout: float = 60) -> None:
        """Wait for ``text`` in a process's log; fail at once, with the log, if it died."""
        process = self.processes[name]

        def seen() -> bool:
            log = self.log(name).read_text(errors="replace")
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log[-3000:]}")
            return text in log

        wait_for(seen, timeout=timeout, what=f"{text!r} in {name}'s log")

    @contextlib.contextmanager
    def one_worker(self, concurrency: int = 1) -> Iterator[Stack]:
        """This stack with worker ``w1`` of ``concurrency`` processes and a beat; stopped after."""
        try:
            self.start_worker("w1", concurrency=concurrency)
            self.start_beat("beat")
            yield self
        finally:
            self.stop()

    def start_beat(self, name: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            name, ["beat", "-l", "INFO", "-s", str(self.directory / f"{name}-schedule")]
        )

    def start_flower(self, name: str = "flower") -> int:
        port = free_port()
        env = dict(self.env, FLOWER_UNAUTHENTICATED_API="true")
        self._spawn(name, ["flower", f"--port={port}", "--address=127.0.0.1"], env=env)
        return port

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(30)

    def stop(self) -> None:
        # A client left open leaks its Redis sockets, and the ResourceWarning of their
        # collection would fail whichever later test the garbage collector runs in.
        for client in self.clients:
            client.close()
        self.clients.clear()
        for name in list(self.processes):
            process = self.processes[name]
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            self.kill(name)

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.processes.items()}

    def run_python(self, script: str) -> subprocess.CompletedProcess[str]:
        """Run ``script`` in a fresh interpreter, as a user's script with this stack's settings."""
        return subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip

    def client(self, registry: PluginRegistry | None = None) -> Client:
        """A client of this deployment; :meth:`stop` closes it if the test did not."""
        client = Client(runtime=Runtime(self.settings, registry=registry))
        self.clients.append(client)
        return client

    def leader(self) -> str | None:
        runtime = Runtime(self.settings)
        value = runtime.redis.get(runtime.keys.leader)
        runtime.redis.close()
        return None if value is None else value.decode()


def wait_all(executions: list[Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for execution in executions:
        execution.wait(max(1.0, deadline - time.monotonic()))
