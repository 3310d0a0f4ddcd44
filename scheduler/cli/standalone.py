"""The whole stack on one machine: Redis, the scheduler, a worker, Flower, metrics, the console.

Used by ``flyte-celery standalone`` and ``flyte-celery demo``. Every process is
a child in its own process group, logs to ``<data dir>/logs``, and is stopped
(TERM, then KILL) when the stack stops, on Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from plugins.errors import ConfigError
from scheduler.cli.datalock import DataFolderLock
from scheduler.settings import Settings

__all__ = ["Standalone"]


def _free_port(preferred: int | None = None) -> int:
    """``preferred`` if it is free, else any free port (0 or None: any)."""
    if preferred:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    """Whether something accepts connections on the loopback ``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(
    what: str, ready: Any, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} exited with {process.returncode}; its log ({log}):\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready within {timeout:g}s; see {log}")
        time.sleep(0.05)


@dataclass
class Standalone:
    """A one-machine deployment.

    Args:
        data_dir: Where Redis data, storage and logs live.
        concurrency: Pool size of the worker.
        flower_port: Flower's port (another free one if taken); ``None`` starts no Flower.
        env: Extra environment for every process.
        metrics_port: The Prometheus endpoint's port (another free one if taken);
            ``None`` starts none.
        console_port: The web console's port (another free one if taken); ``None``
            starts none. Without ``FLYTE_CELERY_CONSOLE_USERS`` it gets one user,
            ``admin``, with a password made for this run (:attr:`console_login`).
    """

    data_dir: Path
    concurrency: int = 2
    flower_port: int | None = 5555
    env: dict[str, str] = field(default_factory=dict)
    metrics_port: int | None = 9808
    console_port: int | None = 8008
    console_login: tuple[str, str] | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.expanduser().resolve()
        self.logs = self.data_dir / "logs"
        self._lock = DataFolderLock(self.data_dir)
        self.settings: Settings | None = None

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.processes[name] = process
        return process

    def _start_redis(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError(
                "redis-server is not installed: install it (apt-get install redis-server) or "
                "point FLYTE_CELERY_REDIS_URL at a running Redis"
            )
        directory = self.data_dir / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        port = _free_port(6390)
        process = self._spawn(
            "redis",
            [
                *(binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)),
                *("--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction"),
            ],
            dict(os.environ),
        )
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)

        def answers() -> bool:
            with contextlib.suppress(redis.ConnectionError):
                return bool(client.ping())
            return False

        _wait("redis-server", answers, process, self.logs / "redis.log", timeout=20)
        client.close()
        return url

    def start(self) -> Settings:
        """Start every process and wait until each is ready; returns the shared settings.

        Raises:
            ConfigError: Another stack runs on the data folder (nothing was started).
        """
        self._lock.acquire()
        overrides: dict[str, Any] = {}
        if "FLYTE_CELERY_REDIS_URL" not in os.environ:
            overrides["redis_url"] = self._start_redis()
        if "FLYTE_CELERY_STORAGE" not in os.environ:
            overrides["storage"] = f"file://{self.data_dir / 'storage'}"
        settings = Settings.load(**overrides)
        self.settings = settings
        env = {**settings.child_environment(), **self.env}
        if self.metrics_port is not None:
            # Every process writes its metric values here; the endpoint adds them up. A
            # new run starts from an empty directory (prometheus_client's rule).
            shared = self.data_dir / "metrics"
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir(parents=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
        celery = [sys.executable, "-m", "celery", "-A", "worker"]
        self.locations["redis"] = settings.redis_url
        self.locations["storage"] = settings.storage
        beat = self._spawn(
            "beat", [*celery, "beat", "-l", "INFO", "-s", str(self.data_dir / "beat-schedule")], env
        )
        worker = self._spawn(
            "worker",
            [
                *celery,
                "worker",
                "-l",
                "INFO",
                "-c",
                str(self.concurrency),
                "-n",
                f"standalone-{os.getpid()}@%h",
            ],
            env,
        )
        worker_log = self.logs / "worker.log"
        _wait(
            "the worker",
            lambda: "ready." in worker_log.read_text(errors="replace"),
            worker,
            worker_log,
        )
        self.locations["worker"] = f"pid {worker.pid}, log {worker_log}"
        self.locations["scheduler"] = f"celery beat, pid {beat.pid}, log {self.logs / 'beat.log'}"
        if self.flower_port is not None:
            port = _free_port(self.flower_port)
            # Flower keeps its own prometheus_client metrics: not in the stack's directory.
            flower_env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            flower = self._spawn(
                "flower", [*celery, "flower", f"--port={port}", "--address=127.0.0.1"], flower_env
            )
            _wait("Flower", lambda: _listening(port), flower, self.logs / "flower.log")
            self.locations["flower"] = f"http://127.0.0.1:{port}"
        if self.metrics_port is not None:
            port = _free_port(self.metrics_port)
            self._serve("metrics", "the metrics endpoint", port, env)
            self.locations["metrics"] = f"http://127.0.0.1:{port}/metrics"
        if self.console_port is not None:
            self._start_console(_free_port(self.console_port), env)
        self.locations["logs"] = str(self.logs)
        return settings

    def _start_console(self, port: int, env: dict[str, str]) -> None:
        console_env = dict(env)
        if "flower" in self.locations:
            console_env["FLYTE_CELERY_FLOWER_URL"] = self.locations["flower"]
        if not console_env.get("FLYTE_CELERY_CONSOLE_USERS"):  # env holds os.environ
            # A local stack still asks who aborts: one user, with a password for this run.
            self.console_login = ("admin", secrets.token_urlsafe(12))
            console_env["FLYTE_CELERY_CONSOLE_USERS"] = ":".join(self.console_login)
        self._serve("console", "the console", port, console_env)
        self.locations["console"] = f"http://127.0.0.1:{port}/"

    def _serve(self, command: str, label: str, port: int, env: dict[str, str]) -> None:
        """Start ``flyte-celery <command> --port=<port>`` and wait until it listens."""
        args = [sys.executable, "-m", "scheduler.cli", command, f"--port={port}"]
        process = self._spawn(command, args, env)
        _wait(label, lambda: _listening(port), process, self.logs / f"{command}.log")

    def stop(self) -> None:
        """Stop every process: TERM, then KILL after 15 s; Redis last."""
        order: list[str] = [
            n for n in ("console", "metrics", "flower", "worker", "beat") if n in self.processes
        ]
        order += [n for n in self.processes if n not in order]
        for name in order:
            process = self.processes.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(15)
        self._lock.release()  # last: the folder is free once nothing of this stack runs

    def __enter__(self) -> Standalone:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
