"""Plugin calls, counted and timed; and what went wrong in the job that made them.

A job's plugin calls are wrapped in :func:`plugin_call`. Besides the metrics, a call that
raises, and a write that ends an attempt in failure, are noted for the job running in this
context (:func:`job_failures`), so that the job itself can end as failed in Celery and Flower
after every result is written.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from scheduler.metrics.instruments import (
    PLUGIN_LATENCY,
    PLUGIN_REQUESTS_FAILURE,
    PLUGIN_REQUESTS_SUCCESS,
)

__all__ = ["job_failures", "note_failure", "plugin_call"]

_FAILURES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "flyte_celery_job_failures", default=None
)


@contextmanager
def job_failures() -> Iterator[list[str]]:
    """Collect what fails in the body (and the threads and tasks it starts): one line each."""
    found: list[str] = []
    token = _FAILURES.set(found)
    try:
        yield found
    finally:
        _FAILURES.reset(token)


def note_failure(text: str) -> None:
    """Note a failure for the job collecting them, if any."""
    found = _FAILURES.get()
    if found is not None:
        found.append(text)


def _code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else type(exc).__name__


@contextmanager
def plugin_call(plugin: str, operation: str, subject: str = "") -> Iterator[None]:
    """Count and time the plugin call in the body (around an ``await`` too).

    Args:
        plugin: The plugin id.
        operation: ``create``, ``get``, ``status``, ``delete``, ``do``, ``handle``...
        subject: The execution the call is for, to name it when the call fails.
    """
    start = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        code = _code(exc)
        PLUGIN_REQUESTS_FAILURE.labels(plugin, operation, code).inc()
        note_failure(f"{subject or plugin}: {operation} raised {code}: {exc}".strip())
        raise
    else:
        PLUGIN_REQUESTS_SUCCESS.labels(plugin, operation).inc()
    finally:
        PLUGIN_LATENCY.labels(plugin, operation).observe(time.perf_counter() - start)
