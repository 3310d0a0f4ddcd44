"""The jobs that run plugin calls: ``create`` and ``get`` (batched), ``delete``, ``do``, ``handle``.

Each job is a thin wrapper: :class:`scheduler._steps.Steps` checks the claim,
calls the plugin under its rate limiter and writes the result back. The
arguments name the execution, so Flower shows which execution a job serves.

A job's run leases are owned by its task id and worker node: the main process takes
them when it receives the job (:class:`scheduler._steps.leases.Reservations`), and the
pool process that runs it holds them under the same owner, so a job reserved by a
worker that then dies comes back within the run lease, not the visibility timeout.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.signals import task_received, worker_process_init
from celery.worker import state as worker_state

from plugins.errors import JobFailedError
from scheduler._model import Step
from scheduler._runtime import process_runtime
from scheduler._steps import Reservations, Steps, running_job
from scheduler.metrics import job_failures
from worker.app import app

__all__ = ["create", "delete", "do", "get", "handle", "steps"]

log = logging.getLogger(__name__)

_by_process: dict[int, Steps] = {}
_reservations: dict[int, Reservations] = {}


def steps() -> Steps:
    """This process's Steps, made after fork (a prefork child gets its own connections)."""
    pid = os.getpid()
    if pid not in _by_process:
        _by_process.clear()
        _by_process[pid] = Steps(process_runtime())
    return _by_process[pid]


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _zero_metrics(**_: Any) -> None:
    """As a pool process starts: its plugins' metric series exist from now on, at zero."""
    try:
        steps().runtime.plugins.zero_metrics()
    except Exception as exc:
        # The process still runs its jobs; the series appear as they are first recorded.
        log.warning("could not make this process's metric series: %s", exc)


def _owner(request: Any) -> str:
    # The job and the worker node: a redelivery of the same message (same task id) to
    # another worker must not pass for the run already going on.
    return f"{request.id}@{request.hostname}"


def _held_jobs() -> set[str]:
    """The owners of the jobs this worker holds, reserved or running (its main process)."""
    # Celery's consumer thread changes these sets meanwhile, and iterating a WeakSet is
    # Python code; copying the plain sets of references under them is one step in C.
    refs = set(worker_state.reserved_requests.data) | set(worker_state.active_requests.data)
    requests = (ref() for ref in refs)
    return {_owner(request) for request in requests if request is not None}


@task_received.connect  # type: ignore[untyped-decorator]
def _reserve(request: Any = None, **kwargs: Any) -> None:
    """In the worker's main process: take the run leases of a job as it arrives."""
    # The task's own name: ``name`` is the label Flower shows (see ``job_label``).
    name = str(getattr(request, "type", None) or getattr(request, "name", ""))
    if not name.startswith("flyte_celery."):
        return
    try:
        step = Step(name.rpartition(".")[2])
        claims = Steps.claims(step, list(request.args))
        pid = os.getpid()
        if pid not in _reservations:
            _reservations.clear()
            _reservations[pid] = Reservations(process_runtime(), live=_held_jobs)
        _reservations[pid].reserve(claims, _owner(request))
    except Exception as exc:
        # The job still runs and takes its leases itself; only the early cover is missing.
        log.warning("could not reserve the run leases of %s: %s", name, exc)


_MOST_NAMED = 5
"""The most failures a failed job's message lists one by one."""


@contextmanager
def _reporting(request: Any) -> Iterator[None]:
    """Run a job's step; then, if a call or an attempt failed in it, fail the job.

    The results are written first: the step returns before this raises. The events
    they log name the job, so the console links each change to it in Flower.
    """
    with job_failures() as failures, running_job(getattr(request, "id", None)):
        yield
    if failures:
        shown = "; ".join(failures[:_MOST_NAMED])
        more = len(failures) - _MOST_NAMED
        raise JobFailedError(shown + (f"; and {more} more" if more > 0 else ""))


# throws: an expected failure, logged by Celery as one line without a traceback.
_JOB = {"bind": True, "throws": (JobFailedError,)}


@app.task(name=Step.CREATE.job_name, **_JOB)  # type: ignore[untyped-decorator]
def create(self: Any, *args: Any) -> None:
    """Create the remote resources of ``[[execution id, attempt], ...]`` of one plugin.

    (Or of one attempt, ``execution id, attempt``, as reconciliation publishes it.)
    """
    with _reporting(self.request):
        steps().run(Step.CREATE, list(args), owner=_owner(self.request))


@app.task(name=Step.GET.job_name, **_JOB)  # type: ignore[untyped-decorator]
def get(self: Any, items: list[list[Any]]) -> None:
    """Get a batch of ``[execution id, attempt]`` of one plugin and namespace."""
    with _reporting(self.request):
        steps().get([(str(i), int(a)) for i, a in items], owner=_owner(self.request))


@app.task(name=Step.DELETE.job_name, **_JOB)  # type: ignore[untyped-decorator]
def delete(self: Any, execution_id: str, attempt: int) -> None:
    """Delete the remote resource of an attempt being aborted or timed out."""
    with _reporting(self.request):
        steps().delete(execution_id, attempt, owner=_owner(self.request))


@app.task(name=Step.DO.job_name, **_JOB)  # type: ignore[untyped-decorator]
def do(self: Any, execution_id: str, attempt: int) -> None:
    """Run a sync plugin's one call."""
    with _reporting(self.request):
        steps().do(execution_id, attempt, owner=_owner(self.request))


@app.task(name=Step.HANDLE.job_name, **_JOB)  # type: ignore[untyped-decorator]
def handle(self: Any, execution_id: str, attempt: int) -> None:
    """Run one round of a core plugin."""
    with _reporting(self.request):
        steps().handle(execution_id, attempt, owner=_owner(self.request))
