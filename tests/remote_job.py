"""The one fake remote-job web-API plugin of the tests, and the services it can run jobs on.

A Flyte web-API plugin creates a job on a remote service, polls it and deletes it on
abort. Three test layers need such a plugin and differ only in where the job lives, so
:class:`RemoteJobPlugin` is written once against the :class:`JobService` protocol and each
layer passes its own service:

* :class:`MemoryJobService` keeps jobs in process, counts every call and can be told to
  fail: the engine tests (``tests/engine``) drive it under the Harness's injected time.
* :class:`HTTPJobService` talks to the real HTTP service of
  ``tests/integration/jobservice.py``, for real ``celery worker`` processes.
* :class:`TimedJobService` has no service behind it: the handle says when the job is
  done, so polling costs nothing and the benchmark (``tests/benchmarks``) measures the
  engine alone; it only records in Redis when each Create came, for the latency figures.

The plugin keys every job on the attempt's generated name, as Flyte asks, so a repeated
Create finds the same job, and a retry (a new attempt, a new name) starts a new one.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import redis
from flyteidl.core import execution_pb2
from google.protobuf import struct_pb2

from plugins.core import (
    PhaseInfo,
    ResourceConstraint,
    ResourceConstraintsSpec,
    ResourceNamespace,
    TaskInfo,
)
from plugins.io import InMemoryOutputReader
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    StatusContext,
    TaskExecutionContextReader,
)

CREATED_KEY = "bench:created"
CREATE_CALLS_KEY = "bench:create-calls"
"""The Redis hash where :class:`TimedJobService` records each Create's time, by job name."""


@dataclass(frozen=True)
class JobHandle:
    """The plugin's resource meta: the job's name, and when a timed job finishes."""

    name: str
    finish_at: float | None = None


@dataclass(frozen=True)
class JobSpec:
    """What Create asks a service for; ``name`` is the attempt's generated name."""

    name: str
    project: str
    domain: str
    seconds: float


class JobService(Protocol):
    """Where the jobs of :class:`RemoteJobPlugin` run."""

    def submit(self, spec: JobSpec) -> JobHandle:
        """Start the job; a second submit of the same name returns the same job."""
        ...

    def state(self, handle: JobHandle) -> str:
        """``RUNNING``, ``SUCCEEDED``, ``FAILED`` or ``DELETED``."""
        ...

    def cancel(self, handle: JobHandle | None, reason: str) -> None:
        """Stop the job; ``handle`` is None when Create never succeeded."""
        ...


class RemoteJobPlugin(AsyncPlugin[JobHandle, str]):
    """Runs one job per attempt on a :class:`JobService`; its outputs are its inputs.

    Args:
        service: The service, or a zero-argument factory of one. A factory is called
            on first use, so each worker process (plugins load before the prefork pool
            forks) builds its own client.
        config: Quotas, rate limits and polling; its ``resource_meta`` is always
            :class:`JobHandle`, whatever it says.
        fail_first_attempt: Attempt 0's Create raises before reaching the service, to
            test that a failed Create is retried under a new generated name.
    """

    def __init__(
        self,
        service: JobService | Callable[[], JobService],
        config: PluginConfig | None = None,
        *,
        fail_first_attempt: bool = False,
    ) -> None:
        self._source = service
        self._service: JobService | None = None
        self._lock = threading.Lock()
        # resource_meta is excluded from model_dump, so re-adding it is what makes the
        # engine store and reload the handle as a JobHandle rather than plain JSON.
        base = PluginConfig() if config is None else config
        self._config = PluginConfig(**base.model_dump(), resource_meta=JobHandle)
        self.fail_first_attempt = fail_first_attempt

    @property
    def service(self) -> JobService:
        """The service, built from the factory on first use (once, though Gets are concurrent)."""
        with self._lock:
            if self._service is None:
                source = self._source
                # A service is never callable itself, so callable() tells a factory apart.
                self._service = source() if callable(source) else source
            return self._service

    def get_config(self) -> PluginConfig:
        return self._config

    def resource_requirements(
        self, ctx: TaskExecutionContextReader
    ) -> tuple[ResourceNamespace, ResourceConstraintsSpec]:
        # Caps come from the template's custom fields, so each test picks its own.
        fields = ctx.task_reader.read().custom.fields
        project = _number(fields, "project_cap")
        domain = _number(fields, "domain_cap")
        return ResourceNamespace("default"), ResourceConstraintsSpec(
            None if project is None else ResourceConstraint(int(project)),
            None if domain is None else ResourceConstraint(int(domain)),
        )

    def create(self, ctx: TaskExecutionContextReader) -> tuple[JobHandle, str | None]:
        meta = ctx.task_execution_metadata
        task_id = meta.task_execution_id
        if self.fail_first_attempt and task_id.retry_attempt == 0:
            # Before the service: attempt 0 must leave no job behind.
            raise ConnectionError("job service refused the first attempt")
        inputs = ctx.input_reader.get()  # a malformed inputs.pb fails here, as in Flyte's connector
        if "seconds" in inputs.literals:
            seconds = inputs.literals["seconds"].scalar.primitive.float_value
        else:
            # Templates without inputs (the benchmark's) say how long in a custom field.
            seconds = _number(ctx.task_reader.read().custom.fields, "seconds") or 0.0
        spec = JobSpec(task_id.generated_name, meta.project, meta.domain, seconds)
        return self.service.submit(spec), None

    async def get(self, ctx: GetContext[JobHandle]) -> str:
        # Gets of a batch share one event loop: a blocking call goes to a thread so the
        # others still run, and a service's slow Get stalls only its own execution.
        return await asyncio.to_thread(self.service.state, ctx.resource_meta)

    def delete(self, ctx: DeleteContext[JobHandle]) -> None:
        self.service.cancel(ctx.resource_meta, ctx.reason)

    def status(self, ctx: StatusContext[JobHandle, str]) -> PhaseInfo:
        state = ctx.resource
        if state == "SUCCEEDED":
            ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
            return PhaseInfo.success()
        if state in ("FAILED", "DELETED"):
            return PhaseInfo.retryable_failure("JobFailed", f"job ended {state}")
        # A log link, as a connector reports one (the console shows it): the job's own page
        # on an HTTP service, a link-less name on an in-memory one.
        where = getattr(self.service, "url", "memory://jobs")
        log = execution_pb2.TaskLog(name="job status", uri=f"{where}/jobs/{ctx.resource_meta.name}")
        return PhaseInfo.running(
            1, TaskInfo(logs=[log], custom_info={"job": ctx.resource_meta.name})
        )


def _number(fields: Mapping[str, struct_pb2.Value], key: str) -> float | None:
    return fields[key].number_value if key in fields else None


@dataclass
class MemoryJobService:
    """Jobs by name in this process, what was asked of the service, and failures on demand.

    Attributes:
        jobs: Each job's state; tests set it to finish or fail a job.
        creates: Submits per job name, failed ones included.
        deletes: ``(name or None, reason)`` of every cancel.
        gets: How many state calls were made.
        fail_creates: How many of the next submits raise ``ConnectionError``.
        fail_gets_after: State calls after this many raise ``TimeoutError``.
        on_delete: Called after each cancel (outside the lock), to act mid-Delete.
    """

    jobs: dict[str, str] = field(default_factory=dict)
    creates: Counter[str] = field(default_factory=Counter)
    deletes: list[tuple[str | None, str]] = field(default_factory=list)
    gets: int = 0
    fail_creates: int = 0
    fail_gets_after: int | None = None
    on_delete: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def running(self) -> int:
        """How many jobs run now."""
        return sum(1 for s in self.jobs.values() if s == "RUNNING")

    def submit(self, spec: JobSpec) -> JobHandle:
        with self.lock:
            self.creates[spec.name] += 1
            if self.fail_creates > 0:
                self.fail_creates -= 1
                raise ConnectionError("service unavailable")
            self.jobs.setdefault(spec.name, "RUNNING")
        return JobHandle(spec.name)

    def state(self, handle: JobHandle) -> str:
        with self.lock:
            self.gets += 1
            limit = self.fail_gets_after
            if limit is not None and self.gets > limit:
                raise TimeoutError(f"get #{self.gets} timed out")
            return self.jobs[handle.name]

    def cancel(self, handle: JobHandle | None, reason: str) -> None:
        name = None if handle is None else handle.name
        with self.lock:
            self.deletes.append((name, reason))
            if name is not None:
                self.jobs[name] = "DELETED"
        if self.on_delete is not None:
            self.on_delete()


class HTTPJobService:
    """A client of the HTTP job service in ``tests/integration/jobservice.py``.

    Args:
        url: The service's base URL; by default ``JOB_SERVICE_URL``, which the
            integration stack sets for its worker processes.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or os.environ["JOB_SERVICE_URL"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                result: dict[str, Any] = json.loads(response.read())
                return result
        except urllib.error.HTTPError as exc:
            # The service's error body says why (e.g. a Get it was told to fail).
            raise RuntimeError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode()}") from None

    def submit(self, spec: JobSpec) -> JobHandle:
        self._call("POST", "/jobs", asdict(spec))
        return JobHandle(spec.name)

    def state(self, handle: JobHandle) -> str:
        return str(self._call("GET", f"/jobs/{handle.name}")["state"])

    def cancel(self, handle: JobHandle | None, reason: str) -> None:
        del reason  # the service takes no reason
        if handle is not None:  # nothing was created, so there is nothing to delete
            self._call("DELETE", f"/jobs/{handle.name}")


_clients: dict[tuple[int, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def process_redis(url: str | None = None) -> redis.Redis:
    """This process's Redis client for ``url`` (default ``FLYTE_CELERY_BENCH_REDIS_URL``, else
    ``FLYTE_CELERY_REDIS_URL``: a benchmark on a Redis Cluster keeps its counts elsewhere).

    One client a process, made on first use: a connection per call would dominate what
    the benchmark measures, and a connection made before the prefork pool forks must not
    be shared by its children (keyed by pid, so a child makes its own).
    """
    url = url or os.environ.get("FLYTE_CELERY_BENCH_REDIS_URL")
    key = (os.getpid(), url or os.environ["FLYTE_CELERY_REDIS_URL"])
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = redis.Redis.from_url(key[1])
        return client


class TimedJobService:
    """Jobs that finish ``seconds`` after their Create, with no service to ask.

    Create records ``time.time()`` in the Redis hash :data:`CREATED_KEY` under the job's
    name (the generated name, i.e. an execution record's ``token``), counts the Creates of
    each name in :data:`CREATE_CALLS_KEY`, and the handle
    carries the finish time, so a Get is a clock read: the benchmark measures the
    engine, not a remote service.

    Args:
        redis_url: Where to record Creates; by default ``FLYTE_CELERY_REDIS_URL``.
    """

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url

    def submit(self, spec: JobSpec) -> JobHandle:
        now = time.time()
        pipe = process_redis(self.redis_url).pipeline(transaction=False)
        pipe.hset(CREATED_KEY, spec.name, now)
        pipe.hincrby(CREATE_CALLS_KEY, spec.name, 1)  # how many Creates each name got
        pipe.execute()
        return JobHandle(spec.name, finish_at=now + spec.seconds)

    def state(self, handle: JobHandle) -> str:
        if handle.finish_at is None:
            raise ValueError(f"job {handle.name} was not created by a TimedJobService")
        return "SUCCEEDED" if time.time() >= handle.finish_at else "RUNNING"

    def cancel(self, handle: JobHandle | None, reason: str) -> None:
        del handle, reason  # a timed job holds nothing to stop
