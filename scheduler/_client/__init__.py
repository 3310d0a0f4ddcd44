"""Submission and the Execution handle: the Python API of a deployment.

:class:`Client` submits tasks (flyteidl templates or :class:`~plugins.tasks.Task`
objects) and reads executions back; :class:`Execution` is the handle on one;
:class:`Submission` is one execution of a batch for :meth:`Client.submit_many`;
:class:`RemoteClient` (from :meth:`Client.connect`) does what ``Client`` does over the HTTP API.
"""

from __future__ import annotations

from scheduler._client.audit import acting_as, run_as
from scheduler._client.client import Client
from scheduler._client.conversion import blob_uris, literal_inputs, no_uploads
from scheduler._client.execution import Execution
from scheduler._client.redis_errors import project_error
from scheduler._client.remote import SERVER_URL_ENV, TOKEN_ENV, RemoteClient
from scheduler._client.submission import Submission

__all__ = [
    "SERVER_URL_ENV",
    "TOKEN_ENV",
    "Client",
    "Execution",
    "RemoteClient",
    "Submission",
    "acting_as",
    "blob_uris",
    "literal_inputs",
    "no_uploads",
    "project_error",
    "run_as",
]
