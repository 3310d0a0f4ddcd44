"""The demo workload of ``flyte-celery demo``: the README's main job.

It runs the standalone stack plus a real local HTTP job service, and submits:

- ``echo`` executions (a sync plugin);
- ``core-sleep`` executions (an async plugin that sleeps in the backend);
- two identical ``@task`` executions with ``cache_serialize``: one runs, one hits the cache;
- ``demo-job`` executions: an async plugin with a quota of 2 that creates, polls
  and deletes jobs on the HTTP service (one of them is aborted);
- with the flytekit extra, a flytekit ``@task`` and a flytekit ``FileSensor`` (the demo
  writes the sensor's file once it runs).

Then it prints a table of the executions and their phases.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2

from plugins.core import PhaseInfo
from plugins.io import InMemoryOutputReader
from plugins.tasks import Task, task
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    TaskExecutionContextReader,
)

__all__ = [
    "DEMO_JOB",
    "DEMO_PLUGIN_SPEC",
    "DemoJobPlugin",
    "JobServer",
    "flytekit_rows",
    "workload",
]

SERVICE_ENV = "FLYTE_CELERY_DEMO_JOB_SERVICE"
DEMO_PLUGIN_SPEC = f"{__name__}:DEMO_JOB"
"""The ``FLYTE_CELERY_PLUGINS`` spec that registers the demo plugin in every process."""


# -- the remote service --------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: JobServer

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            # Idempotent on the name: a repeated Create returns the same job.
            self.server.jobs.setdefault(body["name"], time.monotonic() + float(body["seconds"]))
            self.server.note_running()
        self._reply(200, {"name": body["name"]})

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[1]
        with self.server.lock:
            finish = self.server.jobs.get(name)
            deleted = name in self.server.deleted
        if finish is None:
            self._reply(404, {"error": f"no job {name}"})
        elif deleted:
            self._reply(200, {"state": "DELETED"})
        else:
            self._reply(200, {"state": "SUCCEEDED" if time.monotonic() >= finish else "RUNNING"})

    def do_DELETE(self) -> None:
        name = self.path.rsplit("/", 1)[1]
        with self.server.lock:
            self.server.deleted.add(name)
        self._reply(200, {})


class JobServer(ThreadingHTTPServer):
    """A tiny remote job service on a free loopback port, in a background thread."""

    daemon_threads = True

    def __init__(self) -> None:
        self.jobs: dict[str, float] = {}
        self.deleted: set[str] = set()
        self.max_running = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def note_running(self) -> None:
        """Record how many jobs run now (call with the lock held)."""
        now = time.monotonic()
        running = sum(1 for n, t in self.jobs.items() if t > now and n not in self.deleted)
        self.max_running = max(self.max_running, running)


# -- the plugin ----------------------------------------------------------------------------


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        os.environ[SERVICE_ENV] + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


@dataclass(frozen=True)
class DemoJob:
    """The handle of a job on the demo service."""

    name: str


class DemoJobPlugin(AsyncPlugin[DemoJob, str]):
    """Runs jobs on the demo HTTP service; at most 2 at once (quota ``default``: 2)."""

    def get_config(self) -> PluginConfig:
        """Quota 2, and the fastest resync Flyte allows."""
        config = PluginConfig.model_validate(
            {"resourceQuotas": {"default": 2}, "caching": {"resyncInterval": "5s"}}
        )
        return PluginConfig(**config.model_dump(), resource_meta=DemoJob)

    def create(self, ctx: TaskExecutionContextReader) -> tuple[DemoJob, str | None]:
        """Start a job that runs for the ``seconds`` input; keyed on the generated name."""
        name = ctx.task_execution_metadata.task_execution_id.generated_name
        seconds = ctx.input_reader.get().literals["seconds"].scalar.primitive.float_value
        _call("POST", "/jobs", {"name": name, "seconds": seconds})
        return DemoJob(name), None

    def get(self, ctx: GetContext[DemoJob]) -> str:
        """The job's state."""
        return str(_call("GET", f"/jobs/{ctx.resource_meta.name}")["state"])

    def delete(self, ctx: DeleteContext[DemoJob]) -> None:
        """Stop the job (nothing to do if it was never created)."""
        if ctx.resource_meta is not None:
            _call("DELETE", f"/jobs/{ctx.resource_meta.name}")

    def status(self, ctx: StatusContext[DemoJob, str]) -> PhaseInfo:
        """SUCCESS (outputs = inputs), a failure, or RUNNING."""
        if ctx.resource == "SUCCEEDED":
            ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
            return PhaseInfo.success()
        if ctx.resource == "DELETED":
            return PhaseInfo.retryable_failure("JobDeleted", "the job was deleted")
        return PhaseInfo.running(1)


DEMO_JOB = PluginEntry(
    id="demo-job", supported_task_types=["demo_job"], plugin_loader=DemoJobPlugin
)


# -- the workload --------------------------------------------------------------------------


def _float(value: float) -> literals_pb2.Literal:
    lit = literals_pb2.Literal()
    lit.scalar.primitive.float_value = value
    return lit


def _duration(value: timedelta) -> literals_pb2.Literal:
    lit = literals_pb2.Literal()
    lit.scalar.primitive.duration.FromTimedelta(value)
    return lit


def _template(task_type: str, inputs: dict[str, int]) -> tasks_pb2.TaskTemplate:
    t = tasks_pb2.TaskTemplate(type=task_type)
    t.id.name = f"demo.{task_type}"
    for name, simple in inputs.items():
        var = interface_pb2.Variable(type=types_pb2.LiteralType(simple=simple))  # type: ignore[arg-type]
        t.interface.inputs.variables[name].CopyFrom(var)
    return t


class Summary(NamedTuple):
    """The outputs of :func:`summarize`."""

    size: int
    mean: float


@task(cache=True, cache_version="1", cache_serialize=True)
def summarize(values: list[float]) -> Summary:
    """A Python task run by the workers; two identical runs share one result."""
    return Summary(size=len(values), mean=sum(values) / len(values))


def flytekit_rows(flag: Path) -> list[tuple[tasks_pb2.TaskTemplate | Task, Mapping[str, Any], str]]:
    """The flytekit task and sensor rows, or none without the flytekit extra.

    The sensor waits for ``flag``; the demo writes it once the sensor runs.
    """
    try:
        from scheduler.cli.flytekit_demo import rows  # noqa: PLC0415 - optional extra
    except ImportError:
        return []
    return list(rows(flag))


def workload() -> list[tuple[tasks_pb2.TaskTemplate | Task, Mapping[str, Any], str]]:
    """(task, inputs, label) of every demo execution; the last one is aborted."""
    echo = _template("echo", {"seconds": types_pb2.FLOAT})
    sleep = _template("core-sleep", {"duration": types_pb2.DURATION})
    job = _template("demo_job", {"seconds": types_pb2.FLOAT})
    job.interface.outputs.variables["seconds"].CopyFrom(job.interface.inputs.variables["seconds"])
    items: list[tuple[tasks_pb2.TaskTemplate | Task, Mapping[str, Any], str]] = [
        (echo, {"seconds": _float(i)}, f"echo {i}") for i in (1.0, 2.0)
    ]
    items += [(sleep, {"duration": _duration(timedelta(seconds=s))}, f"sleep {s}s") for s in (1, 3)]
    items += [(job, {"seconds": _float(2.0)}, f"job #{i}") for i in range(1, 7)]
    items += [(summarize, {"values": [1.0, 2.0, 6.0]}, f"python #{i}") for i in (1, 2)]
    items.append((job, {"seconds": _float(600.0)}, "job (aborted)"))
    return items
