"""The one error hierarchy of flyte-celery.

Every exception the project raises on purpose derives from :class:`FlyteCeleryError`.
Each class carries a stable ``code`` (the string that ends up in a failed
execution's ``ExecutionError.code``) and, where it helps callers, also derives from
the matching builtin (``ValueError``, ``LookupError``, ...), as flytekit does, so
that ``except ValueError`` keeps working for code that does not know our types.

The tree::

    FlyteCeleryError
    ├── ConfigError (ValueError)                  a bad configuration value
    │   └── PluginConfigError                     PluginConfig out of Flyte's ranges
    ├── InvalidPhaseError (ValueError)            an unknown phase name
    ├── PluginError
    │   ├── PluginNotFoundError (LookupError)     an unknown task type
    │   ├── DuplicatePluginError                  two plugins with one id
    │   ├── PluginLoadError                       a loader or entry point failed
    │   └── RemoteCallError                       a plugin's remote service failed
    ├── PluginStateError                          corrupted persisted plugin state
    ├── SecretNotFoundError (LookupError)         a secret that is not configured
    ├── TaskError                                 the Python task API
    │   ├── TaskLoadError (ImportError)           a worker cannot find a task again
    │   ├── InputConversionError (TypeError)      inputs that do not fit the interface
    │   └── OutputConversionError (TypeError)     a return value that does not fit it
    ├── ExecutionFailedError                      Execution.result() of a failed execution
    ├── ExecutionTimeoutError (TimeoutError)      an execution did not finish in time
    ├── ExecutionNotFoundError (LookupError)      no execution has this id (or it expired)
    ├── ExecutionExistsError                      an execution with this id already exists
    ├── InvalidSubmissionError (ValueError)       a template or inputs rejected at submit
    ├── ContentionError                           a compare-and-set kept losing to others
    ├── JobFailedError                            a job's call or attempt failed (Flower)
    ├── BackendUnavailableError (ConnectionError) Redis did not answer
    ├── AccessDeniedError (PermissionError)       Redis refused the credentials or an ACL
    └── StorageError (OSError)
        ├── RemoteFileNotFoundError (FileNotFoundError)
        ├── RemoteFileExceedsMaxSizeError         a blob over the download limit
        ├── MalformedProtobufError                bytes that do not parse
        └── InputReadError                        inputs.pb could not be read
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "BackendUnavailableError",
    "ConfigError",
    "ContentionError",
    "DuplicatePluginError",
    "ExecutionExistsError",
    "ExecutionFailedError",
    "ExecutionNotFoundError",
    "ExecutionTimeoutError",
    "FlyteCeleryError",
    "InputConversionError",
    "InputReadError",
    "InvalidPhaseError",
    "InvalidSubmissionError",
    "JobFailedError",
    "MalformedProtobufError",
    "OutputConversionError",
    "PluginConfigError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "PluginStateError",
    "RemoteCallError",
    "RemoteFileExceedsMaxSizeError",
    "RemoteFileNotFoundError",
    "SecretNotFoundError",
    "StorageError",
    "TaskError",
    "TaskLoadError",
]


class FlyteCeleryError(Exception):
    """Root of every error that flyte-celery raises on purpose.

    Attributes:
        code: A stable, machine-readable error code. Subclasses override it; an
            instance may override it again through the constructor.
    """

    code: str = "FlyteCeleryError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human-readable message, without the code."""
        return str(self.args[0]) if self.args else ""


class ConfigError(FlyteCeleryError, ValueError):
    """A configuration value is missing, malformed or out of range."""

    code = "BadConfig"


class PluginConfigError(ConfigError):
    """A plugin's :class:`plugins.webapi.PluginConfig` violates Flyte's ranges."""

    code = "PluginConfigInvalid"


class InvalidPhaseError(FlyteCeleryError, ValueError):
    """A string does not name any :class:`plugins.core.Phase`."""

    code = "InvalidPhase"


class PluginError(FlyteCeleryError):
    """Base class for plugin registration and resolution problems."""

    code = "PluginError"


class PluginNotFoundError(PluginError, LookupError):
    """No plugin handles a task type, and no default plugin is configured."""

    code = "UnknownTaskType"

    def __str__(self) -> str:
        # LookupError subclasses such as KeyError quote their message; we never do.
        return self.message


class DuplicatePluginError(PluginError):
    """Two plugins were registered with the same id, or two claim to be the default."""

    code = "DuplicatePlugin"


class PluginLoadError(PluginError):
    """A plugin's loader, entry point or ``module:attr`` spec could not be loaded."""

    code = "PluginLoadFailed"


class RemoteCallError(PluginError):
    """A plugin's call to a remote service failed, and the plugin says how to treat it.

    A plugin call that raises anything else is a retryable user failure (Flyte's
    ``TaskFailedWithError``); this one names its own kind. A remote service that is
    unavailable or missed its deadline is a SYSTEM error, retried on the system budget;
    one that refused the request for good (an unknown task type) is permanent.

    Attributes:
        system: The platform, not the task, is at fault.
        retryable: Another attempt may succeed.
    """

    code = "RemoteCallFailed"

    def __init__(
        self, message: str, *, code: str | None = None, system: bool = True, retryable: bool = True
    ) -> None:
        super().__init__(message, code=code)
        self.system = system
        self.retryable = retryable


class PluginStateError(FlyteCeleryError):
    """Persisted plugin state could not be decoded (Flyte's ``CorruptedPluginState``)."""

    code = "CorruptedPluginState"


class SecretNotFoundError(FlyteCeleryError, LookupError):
    """A secret is not configured. The message names where it was looked for."""

    code = "SecretNotFound"

    def __str__(self) -> str:
        return self.message


class StorageError(FlyteCeleryError, OSError):
    """Reading or writing blob storage failed."""

    code = "StorageError"

    def __str__(self) -> str:
        # OSError formats its args itself; keep our plain message.
        return self.message


class RemoteFileNotFoundError(StorageError, FileNotFoundError):
    """A blob that was expected to exist does not."""

    code = "NotFound"


class RemoteFileExceedsMaxSizeError(StorageError):
    """A blob is larger than the download limit (Flyte's ``ErrRemoteFileExceedsMaxSize``)."""

    code = "RemoteFileExceedsMaxSize"


class MalformedProtobufError(StorageError):
    """A blob exists but does not parse as the expected protobuf message."""

    code = "BadFormat"


class InputReadError(StorageError):
    """The inputs of a task could not be read (Flyte's ``READ_FAILED``)."""

    code = "READ_FAILED"


class TaskError(FlyteCeleryError):
    """A Python task could not be defined, loaded or run for a reason other than user code."""

    code = "TaskError"


class TaskLoadError(TaskError, ImportError):
    """A worker cannot load the task a template names (module or attribute missing)."""

    code = "TaskLoadFailed"


class InputConversionError(TaskError, TypeError):
    """Inputs do not convert to the types the task declares; the message names the input."""

    code = "InputConversionError"


class OutputConversionError(TaskError, TypeError):
    """A task returned values that do not convert to its declared outputs."""

    code = "OutputConversionError"


class ExecutionFailedError(FlyteCeleryError):
    """An execution ended without success; carries its error.

    Attributes:
        execution_id: The execution, ``project/domain/name``.
        code: The remote error's code.
        message: The remote error's message (for Python tasks, with the traceback).
        kind: ``"USER"`` or ``"SYSTEM"``.
        phase: The final phase's name (``PERMANENT_FAILURE`` or ``ABORTED``).
    """

    def __init__(
        self, execution_id: str, code: str, message: str, kind: str, phase: str = ""
    ) -> None:
        super().__init__(
            f"execution {execution_id} failed ({phase or 'FAILED'}, {kind} error {code}): "
            f"{message}",
            code=code,
        )
        self.execution_id = execution_id
        self.kind = kind
        self.phase = phase
        self.remote_message = message

    @property
    def message(self) -> str:
        """The remote error's message (``str(error)`` adds the id, phase, kind and code)."""
        return self.remote_message


class ExecutionNotFoundError(FlyteCeleryError, LookupError):
    """No execution has this id (or it expired after its retention)."""

    code = "ExecutionNotFound"

    def __str__(self) -> str:
        # LookupError subclasses such as KeyError quote their message; we never do.
        return self.message


class ExecutionTimeoutError(FlyteCeleryError, TimeoutError):
    """An execution did not finish within the time a caller waited for it.

    The execution itself goes on; only the wait ended.
    """

    code = "ExecutionTimeout"

    def __str__(self) -> str:
        # OSError (TimeoutError's base) formats its args itself; keep our plain message.
        return self.message


class ExecutionExistsError(FlyteCeleryError):
    """An execution with this id already exists."""

    code = "ExecutionExists"


class InvalidSubmissionError(FlyteCeleryError, ValueError):
    """A template or its inputs were rejected at submit time."""

    code = "InvalidSubmission"


class BackendUnavailableError(FlyteCeleryError, ConnectionError):
    """Redis, which holds every execution, did not answer; the call may be tried again."""

    code = "BackendUnavailable"

    def __str__(self) -> str:
        # OSError (ConnectionError's base) formats its args itself; keep our plain message.
        return self.message


class AccessDeniedError(FlyteCeleryError, PermissionError):
    """Redis refused this client: wrong credentials, or its ACL user may not do this call."""

    code = "AccessDenied"

    def __str__(self) -> str:
        # OSError (PermissionError's base) formats its args itself; keep our plain message.
        return self.message


class ContentionError(FlyteCeleryError):
    """Too many concurrent writers: a compare-and-set kept losing and the retries ran out.

    Nothing was written; the operation may be retried later.
    """

    code = "Contention"


class JobFailedError(FlyteCeleryError):
    """A job's plugin call failed, or an execution it served ended in failure.

    A worker raises it at the end of the job, after every result is written, so that
    Celery and Flower show the job as failed with what went wrong. Nothing retries the
    job: the execution's state in Redis already says what happens next.
    """

    code = "JobFailed"
