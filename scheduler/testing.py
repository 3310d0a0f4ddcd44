"""Test a plugin against a real Redis, with time injected and without Celery processes.

:class:`Harness` wires the real :class:`~scheduler._engine.Engine`, the real worker
:class:`~scheduler._steps.Steps` and a :class:`~scheduler._client.Client` to one
Redis, one storage root and one :class:`~scheduler.clock.ManualClock`. Published
jobs are collected and run inline, so a scenario is deterministic and needs no
sleeps: submit, :meth:`Harness.drain`, :meth:`Harness.advance` the clock, and
look at the execution.

>>> with RedisServer.start(tmp_dir) as redis_server:            # doctest: +SKIP
...     registry = PluginRegistry()
...     registry.register(PluginEntry("my-plugin", ["my_task"], MyPlugin))
...     settings = Settings(redis_url=redis_server.url, storage=f"file://{tmp_dir}/s")
...     h = Harness.create(settings, registry=registry)
...     ex = h.client.submit(template, inputs)
...     h.until(lambda: ex.refresh().phase.is_terminal())

:class:`RedisServer` starts a private, diskless ``redis-server`` on a free
loopback port for the duration of a test session.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from plugins.core import PluginRegistry
from plugins.errors import ConfigError
from scheduler._client import Client
from scheduler._engine import Engine
from scheduler._model import Step
from scheduler._runtime import Runtime
from scheduler._steps import Steps
from scheduler.clock import ManualClock
from scheduler.settings import Settings

__all__ = ["Harness", "PublishedJob", "RedisServer"]


@dataclass(frozen=True)
class PublishedJob:
    """A job the engine published.

    Attributes:
        name: The Celery task name (``flyte_celery.<step>``).
        args: Its arguments.
        queue: The queue it went to.
        time_limit: When a worker would cut its call off.
    """

    name: str
    args: list[Any]
    queue: str
    time_limit: timedelta | None = None

    @property
    def step(self) -> Step:
        """The step the job runs."""
        return Step(self.name.rpartition(".")[2])


class Harness:
    """The engine, the worker steps and a client on one Redis, with a manual clock.

    Build one with :meth:`create`, or from a runtime whose clock is a ManualClock.

    Args:
        runtime: The shared runtime.

    Attributes:
        runtime: The shared runtime (its clock is :attr:`clock`).
        engines: The scheduler's engine of each shard; their jobs are collected, not sent.
        engine: Shard 0's engine (the only one with one shard).
        steps: The worker steps that run the collected jobs.
        client: A client on the same runtime.
        clock: The clock of all three.
        jobs: Published jobs not yet run.
        log: Every job ever published, in order.

    Raises:
        ConfigError: The runtime's clock is not a ManualClock.
    """

    def __init__(self, runtime: Runtime) -> None:
        if not isinstance(runtime.clock, ManualClock):
            raise ConfigError("a Harness needs a runtime whose clock is a ManualClock")
        self.runtime = runtime
        self.clock: ManualClock = runtime.clock
        self.jobs: list[PublishedJob] = []
        self.log: list[PublishedJob] = []
        self.engines = [
            Engine(runtime.for_shard(shard), self.publish, depth=self.depth)
            for shard in range(runtime.shards.count)
        ]
        self.engine = self.engines[0]
        self.steps = Steps(runtime)
        self.client = Client(runtime=runtime)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        registry: PluginRegistry | None = None,
        redis_client: redis.Redis | None = None,
        start: datetime | None = None,
    ) -> Harness:
        """A harness for ``settings``.

        Args:
            settings: Settings of the deployment under test (its Redis and storage).
            registry: The plugins; entry points plus ``settings.plugins`` if omitted.
            redis_client: A client to reuse; one is made from ``settings.redis_url``.
            start: The clock's first time (the system time by default).
        """
        clock = ManualClock(start)
        return cls(Runtime(settings, redis_client, registry, clock=clock))

    @property
    def now(self) -> datetime:
        """The harness's current time."""
        return self.clock()

    def publish(
        self, job: str, args: list[Any], queue: str, *, time_limit: timedelta | None = None
    ) -> None:
        """Collect a job, as the engine's publisher does."""
        published = PublishedJob(job, args, queue, time_limit)
        self.jobs.append(published)
        self.log.append(published)

    def depth(self, queue: str) -> int:
        """The jobs published to ``queue`` and not run yet, as a broker counts them."""
        return sum(1 for job in self.jobs if job.queue == queue)

    def run(self, job: PublishedJob) -> None:
        """Run one job inline, as a worker would (a redelivery is just another call)."""
        self.steps.run(job.step, job.args)

    def tick(self) -> timedelta:
        """One tick of every shard's engine at the current time; how long until the next."""
        now = self.clock()
        return min(engine.tick(now) for engine in self.engines)

    def drain(self, rounds: int = 50) -> None:
        """Tick and run published jobs until nothing more happens at this instant.

        Raises:
            AssertionError: The engine still produced jobs after ``rounds`` rounds.
        """
        for _ in range(rounds):
            self.tick()
            if not self.jobs:
                return
            batch = list(self.jobs)
            self.jobs.clear()
            for job in batch:
                self.run(job)
        raise AssertionError("the engine kept producing jobs")

    def advance(self, by: timedelta) -> datetime:
        """Move the clock forward; returns the new time."""
        return self.clock.advance(by)

    def until(
        self,
        condition: Callable[[], bool],
        *,
        step: timedelta = timedelta(seconds=1),
        limit: int = 200,
    ) -> None:
        """Drain, advance by ``step``, and repeat until ``condition()`` holds.

        Raises:
            AssertionError: It never held within ``limit`` steps.
        """
        for _ in range(limit):
            self.drain()
            if condition():
                return
            self.advance(step)
        raise AssertionError("condition never held")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """A private ``redis-server`` subprocess on a free loopback port.

    Attributes:
        process: The server process.
        port: Its port.
        directory: Where it keeps its log (and its append-only file, with persistence).
        args: The command line, so :meth:`restart` starts the same server again.
    """

    process: subprocess.Popen[bytes]
    port: int
    directory: Path
    args: list[str]

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A new client of this server."""
        return redis.Redis.from_url(self.url)

    @classmethod
    def start(cls, directory: Path, attempts: int = 5, *, persistence: bool = False) -> RedisServer:
        """Start a server with ``noeviction`` and wait until it answers.

        Args:
            directory: Where its log (and append-only file) go.
            attempts: Ports to try, in case another process takes a free one first.
            persistence: Keep an append-only file, so a restart keeps the data;
                diskless otherwise, so a restart comes back empty.

        Raises:
            ConfigError: ``redis-server`` is not installed, or never answered.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError("redis-server is not installed (apt-get install redis-server)")
        last_error = ""
        for _ in range(attempts):
            port = _free_port()
            log = directory / f"redis-{port}.log"
            args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
            args += ["--save", "", "--appendonly", "yes" if persistence else "no"]
            args += ["--appendfilename", f"redis-{port}.aof", "--logfile", str(log)]
            args += ["--maxmemory-policy", "noeviction"]
            # A fault test may move ``dir`` (a protected setting) to make a snapshot fail.
            args += ["--enable-protected-configs", "local"]
            server = cls(cls._spawn(args), port, directory, args)
            if server._answers(timeout=10.0):
                return server
            server.stop()
            last_error = log.read_text() if log.exists() else "no log"
        raise ConfigError(f"redis-server did not start: {last_error}")

    @staticmethod
    def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _answers(self, timeout: float) -> bool:
        client = self.client()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if client.ping():
                        return True
                except (redis.ConnectionError, redis.BusyLoadingError):
                    time.sleep(0.02)
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server (``kill -9``): nothing is flushed to disk."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def start_again(self) -> None:
        """Start the stopped server again on the same port, with the same options.

        Raises:
            ConfigError: It is still running, or did not answer within 10 s.
        """
        if self.process.poll() is None:
            raise ConfigError(f"redis-server on port {self.port} is still running")
        self.process = self._spawn(self.args)
        if not self._answers(timeout=10.0):
            raise ConfigError(f"redis-server on port {self.port} did not come back")

    def restart(self) -> None:
        """Stop the server cleanly and start it again on the same port."""
        self.stop()
        self.start_again()

    def stop(self) -> None:
        """Stop the server: TERM, then KILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
