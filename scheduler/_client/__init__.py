"""Submission and the Execution handle: the Python API of a deployment.

:class:`Client` submits tasks (flyteidl templates or :class:`~plugins.tasks.Task`
objects) and reads executions back; :class:`Execution` is the handle on one;
:class:`Submission` is one execution of a batch for :meth:`Client.submit_many`.
"""

from __future__ import annotations

from scheduler._client.client import Client
from scheduler._client.execution import Execution
from scheduler._client.submission import Submission

__all__ = ["Client", "Execution", "Submission"]
