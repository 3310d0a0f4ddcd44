"""The jobs that run plugin calls: ``create``, ``get`` (batched), ``delete``, ``do``, ``handle``.

Each job is a thin wrapper: :class:`scheduler.steps.Steps` checks the claim,
calls the plugin under its rate limiter and writes the result back. The
arguments name the execution, so Flower shows which execution a job serves.
"""

from __future__ import annotations

import os
from typing import Any

from scheduler.model import Step
from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.steps import Steps
from worker.app import app

__all__ = ["create", "delete", "do", "get", "handle", "steps"]

_by_process: dict[int, Steps] = {}


def steps() -> Steps:
    """This process's Steps, made after fork (a prefork child gets its own connections)."""
    pid = os.getpid()
    if pid not in _by_process:
        _by_process.clear()
        _by_process[pid] = Steps(Runtime(Settings.load()))
    return _by_process[pid]


@app.task(name=Step.CREATE.job_name)  # type: ignore[untyped-decorator]
def create(execution_id: str, attempt: int) -> None:
    """Create the remote resource of ``execution_id``'s attempt ``attempt``."""
    steps().create(execution_id, attempt)


@app.task(name=Step.GET.job_name)  # type: ignore[untyped-decorator]
def get(items: list[list[Any]]) -> None:
    """Get a batch of ``[execution id, attempt]`` of one plugin and namespace."""
    steps().get([(str(i), int(a)) for i, a in items])


@app.task(name=Step.DELETE.job_name)  # type: ignore[untyped-decorator]
def delete(execution_id: str, attempt: int) -> None:
    """Delete the remote resource of an attempt being aborted or timed out."""
    steps().delete(execution_id, attempt)


@app.task(name=Step.DO.job_name)  # type: ignore[untyped-decorator]
def do(execution_id: str, attempt: int) -> None:
    """Run a sync plugin's one call."""
    steps().do(execution_id, attempt)


@app.task(name=Step.HANDLE.job_name)  # type: ignore[untyped-decorator]
def handle(execution_id: str, attempt: int) -> None:
    """Run one round of a core plugin's ``handle``."""
    steps().handle(execution_id, attempt)
