"""Submission and the Execution handle: the Python API of a deployment.

:class:`Client` submits tasks (flyteidl templates or :class:`~plugins.tasks.Task`
objects) and reads executions back; :class:`Execution` is the handle on one.
"""

from __future__ import annotations

from plugins.deprecation import moved_names as _moved_names
from scheduler.client.client import Client
from scheduler.client.execution import Execution

__all__ = ["Client", "Execution"]

# Errors this module exported before they moved to plugins.errors (and the scheduler
# package); they still resolve here, with a DeprecationWarning, until the next minor release.
_MOVED_ERRORS = ("ExecutionFailedError", "ExecutionNotFoundError", "InvalidSubmissionError")


__getattr__ = _moved_names(__name__, dict.fromkeys(_MOVED_ERRORS, "plugins.errors"))
