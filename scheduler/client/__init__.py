"""Submission and the Execution handle: the Python API of a deployment.

:class:`Client` submits tasks (flyteidl templates or :class:`~plugins.tasks.Task`
objects) and reads executions back; :class:`Execution` is the handle on one.
"""

from __future__ import annotations

import warnings as _warnings

import plugins.errors as _errors
from scheduler.client.client import Client
from scheduler.client.execution import Execution

__all__ = ["Client", "Execution"]

# Errors this module exported before they moved to plugins.errors (and the scheduler
# package); they still resolve here, with a DeprecationWarning, until the next minor release.
_MOVED_ERRORS = ("ExecutionFailedError", "ExecutionNotFoundError", "InvalidSubmissionError")


def __getattr__(name: str) -> object:
    if name not in _MOVED_ERRORS:
        raise AttributeError(f"module 'scheduler.client' has no attribute {name!r}")
    _warnings.warn(
        f"scheduler.client.{name} moved to plugins.errors.{name} (also exported by scheduler)",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_errors, name)
