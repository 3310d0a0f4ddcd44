"""Phase information: the Python twin of ``PhaseInfo`` in Go's ``pluginmachinery/core/phase.go``.

A plugin reports where a task is with a :class:`PhaseInfo`: a :class:`Phase`, a
version that lets the same phase carry new information, a reason, a
:class:`TaskInfo` (logs, custom info, external resources) and, for failures, an
:class:`ExecutionError`. PhaseInfo values are immutable; use the classmethod
constructors, which mirror Go's ``PhaseInfo*`` functions one for one, in Go's
parameter order (``PhaseInfoQueued(t, version, reason)`` is
``PhaseInfo.queued(t, version, reason)``).

The time-first constructors (``not_ready``, ``waiting_for_resources``,
``waiting_for_resources_info``, ``queued``, ``queued_with_task_info``,
``initializing``, ``aborted``) take ``t``, when the phase occurred, first; ``None``
means now. Anything else there (typically a version, from code written for the
old ``(version, reason, info)`` order) raises :class:`TypeError` rather than
silently building the wrong PhaseInfo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from plugins.core.phase import (
    DEFAULT_PHASE_VERSION,
    MAX_PHASE_VERSION,
    ErrorKind,
    ExecutionError,
    Phase,
)
from plugins.core.taskinfo import TaskInfo
from plugins.idl import JSONValue

__all__ = ["PhaseInfo"]


def _now() -> datetime:
    return datetime.now(UTC)


def _time_first(constructor: str, t: object) -> datetime | None:
    """Return ``t`` if it is a time (or ``None``); otherwise raise a TypeError naming Go's order.

    Callers written for the old ``(version, reason, info)`` order pass an ``int``
    where the time now goes; without this check the version would land in the
    time and the reason in the version, failing far from the mistake or not at all.
    """
    if t is None or isinstance(t, datetime):
        return t
    raise TypeError(
        f"PhaseInfo.{constructor}() takes the time first, in Go's order "
        f"({constructor}(t, version, reason, ...)); got {type(t).__name__} {t!r} for t. "
        f"Pass a datetime or None (now), e.g. PhaseInfo.{constructor}(None, version, reason)."
    )


@dataclass(frozen=True)
class PhaseInfo:
    """What a plugin observed about a task: an immutable phase, version, reason, info and error.

    Build values with the classmethods, which mirror Go's constructors and their
    parameter order (see the module docstring). Non-failures take an optional
    ``info``; without one (or without its ``occurred_at``) the time is ``t`` or
    now, as in Go. Failures are always version 0, and a missing error becomes
    code ``"Unknown"``; ``failure`` and ``retryable_failure`` are USER errors,
    ``system_failure`` and ``system_retryable_failure`` SYSTEM errors.

    Attributes:
        phase: The observed phase.
        version: Lets one phase carry new information; an event is recorded
            whenever (phase, version) changes.
        reason: Why the phase is what it is.
        info: Logs, times, custom info and external resources.
        err: The error of a failure phase.
        cleanup_on_failure: Tear the task down even though it failed (e.g. a pod
            stuck pulling a missing image).
    """

    phase: Phase
    version: int = DEFAULT_PHASE_VERSION
    reason: str = ""
    info: TaskInfo | None = None
    err: ExecutionError | None = None
    cleanup_on_failure: bool = False

    UNDEFINED: ClassVar[PhaseInfo]

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", Phase(self.phase))
        if not 0 <= self.version <= MAX_PHASE_VERSION:
            raise ValueError(
                f"phase version must be in [0, {MAX_PHASE_VERSION}], got {self.version}"
            )

    # -- constructors (one per Go constructor) -------------------------------------------------

    @classmethod
    def _make(
        cls,
        phase: Phase,
        version: int,
        info: TaskInfo | None,
        *,
        reason: str = "",
        err: ExecutionError | None = None,
        cleanup_on_failure: bool = False,
        occurred_at: datetime | None = None,
    ) -> PhaseInfo:
        if info is None:
            info = TaskInfo(occurred_at=occurred_at or _now())
        elif info.occurred_at is None:
            info = replace(info, occurred_at=occurred_at or _now())
        return cls(phase, version, reason, info, err, cleanup_on_failure)

    @classmethod
    def _failed(
        cls,
        phase: Phase,
        err: ExecutionError | None,
        info: TaskInfo | None,
        cleanup_on_failure: bool,
    ) -> PhaseInfo:
        if err is None:
            err = ExecutionError(code="Unknown", message="Unknown error message")
        return cls._make(
            phase, DEFAULT_PHASE_VERSION, info, err=err, cleanup_on_failure=cleanup_on_failure
        )

    @classmethod
    def not_ready(cls, t: datetime | None = None, version: int = 0, reason: str = "") -> PhaseInfo:
        """NOT_READY: the plugin is not ready to start the task (Go's ``PhaseInfoNotReady``).

        Args:
            t: When the phase occurred; now when ``None``.
            version: The phase version.
            reason: Why the task is not ready.

        Raises:
            TypeError: ``t`` is neither a datetime nor ``None``.
        """
        t = _time_first("not_ready", t)
        return cls._make(Phase.NOT_READY, version, None, reason=reason, occurred_at=t)

    @classmethod
    def waiting_for_resources(
        cls, t: datetime | None = None, version: int = 0, reason: str = ""
    ) -> PhaseInfo:
        """WAITING_FOR_RESOURCES, e.g. no quota token is free.

        Go's ``PhaseInfoWaitingForResources``, which Go deprecates in favour of
        :meth:`waiting_for_resources_info`; it stays for parity and for callers
        that have no :class:`TaskInfo`.

        Args:
            t: When the phase occurred; now when ``None``.
            version: The phase version.
            reason: What the task waits for.

        Raises:
            TypeError: ``t`` is neither a datetime nor ``None``.
        """
        t = _time_first("waiting_for_resources", t)
        return cls._make(Phase.WAITING_FOR_RESOURCES, version, None, reason=reason, occurred_at=t)

    @classmethod
    def waiting_for_resources_info(
        cls,
        t: datetime | None = None,
        version: int = 0,
        reason: str = "",
        info: TaskInfo | None = None,
    ) -> PhaseInfo:
        """WAITING_FOR_RESOURCES with a :class:`TaskInfo`.

        Go's ``PhaseInfoWaitingForResourcesInfo``.

        Args:
            t: When the phase occurred, used when ``info`` has no ``occurred_at``;
                now when ``None``.
            version: The phase version.
            reason: What the task waits for.
            info: Logs, custom info and external resources; its own ``occurred_at`` wins.

        Raises:
            TypeError: ``t`` is neither a datetime nor ``None``.
        """
        t = _time_first("waiting_for_resources_info", t)
        return cls._make(Phase.WAITING_FOR_RESOURCES, version, info, reason=reason, occurred_at=t)

    @classmethod
    def queued(cls, t: datetime | None = None, version: int = 0, reason: str = "") -> PhaseInfo:
        """QUEUED: submitted, not started yet (Go's ``PhaseInfoQueued``).

        Args:
            t: When the phase occurred; now when ``None``.
            version: The phase version.
            reason: Why the task is queued.

        Raises:
            TypeError: ``t`` is neither a datetime nor ``None``.
        """
        t = _time_first("queued", t)
        return cls._make(Phase.QUEUED, version, None, reason=reason, occurred_at=t)

    @classmethod
    def queued_with_task_info(
        cls,
        t: datetime | None = None,
        version: int = 0,
        reason: str = "",
        info: TaskInfo | None = None,
    ) -> PhaseInfo:
        """QUEUED with a :class:`TaskInfo` (Go's ``PhaseInfoQueuedWithTaskInfo``).

        Go added the leading ``t`` in 2024 (flyteorg/flyte#4726); this follows it.

        Args:
            t: When the phase occurred, used when ``info`` has no ``occurred_at``;
                now when ``None``.
            version: The phase version.
            reason: Why the task is queued.
            info: Logs, custom info and external resources; its own ``occurred_at`` wins.

        Raises:
            TypeError: ``t`` is neither a datetime nor ``None``.
        """
        t = _time_first("queued_with_task_info", t)
        return cls._make(Phase.QUEUED, version, info, reason=reason, occurred_at=t)

    @classmethod
    def initializing(
        cls,
        t: datetime | None = None,
        version: int = 0,
        reason: str = "",
        info: TaskInfo | None = None,
    ) -> PhaseInfo:
        """INITIALIZING: the remote side is preparing (Go's ``PhaseInfoInitializing``).

        For example downloading images or starting a cluster.

        Args:
            t: When the phase occurred, used when ``info`` has no ``occurred_at``;
                now when ``None``.
            version: The phase version.
            reason: What is being prepared.
            info: Logs, custom info and external resources; its own ``occurred_at`` wins.

        Raises:
            TypeError: ``t`` is neither a datetime nor ``None``.
        """
        t = _time_first("initializing", t)
        return cls._make(Phase.INITIALIZING, version, info, reason=reason, occurred_at=t)

    @classmethod
    def aborted(cls, t: datetime | None = None, version: int = 0, reason: str = "") -> PhaseInfo:
        """ABORTED: the task was stopped on request (Go's ``PhaseInfoAborted``).

        Args:
            t: When the phase occurred; now when ``None``.
            version: The phase version.
            reason: Why the task was aborted.

        Raises:
            TypeError: ``t`` is neither a datetime nor ``None``.
        """
        t = _time_first("aborted", t)
        return cls._make(Phase.ABORTED, version, None, reason=reason, occurred_at=t)

    @classmethod
    def running(cls, version: int = 0, info: TaskInfo | None = None) -> PhaseInfo:
        """RUNNING. Bump ``version`` whenever ``info`` changes, or the change is not recorded."""
        return cls._make(Phase.RUNNING, version, info)

    @classmethod
    def success(cls, info: TaskInfo | None = None) -> PhaseInfo:
        """SUCCESS, always version 0."""
        return cls._make(Phase.SUCCESS, DEFAULT_PHASE_VERSION, info)

    @classmethod
    def waiting_for_cache(cls, version: int = 0, info: TaskInfo | None = None) -> PhaseInfo:
        """WAITING_FOR_CACHE: another execution is computing the cached result."""
        return cls._make(Phase.WAITING_FOR_CACHE, version, info)

    @classmethod
    def failed(
        cls, phase: Phase, err: ExecutionError | None, info: TaskInfo | None = None
    ) -> PhaseInfo:
        """A failure in ``phase`` with a ready-made error (whose kind is kept)."""
        return cls._failed(phase, err, info, False)

    @classmethod
    def failed_with_cleanup(
        cls, phase: Phase, err: ExecutionError | None, info: TaskInfo | None = None
    ) -> PhaseInfo:
        """Like :meth:`failed`, and tear the task down."""
        return cls._failed(phase, err, info, True)

    @classmethod
    def failure(cls, code: str, reason: str, info: TaskInfo | None = None) -> PhaseInfo:
        """PERMANENT_FAILURE caused by the user (USER kind)."""
        return cls._failed(Phase.PERMANENT_FAILURE, _err(code, reason, ErrorKind.USER), info, False)

    @classmethod
    def failure_with_cleanup(
        cls, code: str, reason: str, info: TaskInfo | None = None
    ) -> PhaseInfo:
        """Like :meth:`failure`, and tear the task down."""
        return cls._failed(Phase.PERMANENT_FAILURE, _err(code, reason, ErrorKind.USER), info, True)

    @classmethod
    def retryable_failure(cls, code: str, reason: str, info: TaskInfo | None = None) -> PhaseInfo:
        """RETRYABLE_FAILURE of USER kind: consumes one of the task's user retries."""
        return cls._failed(Phase.RETRYABLE_FAILURE, _err(code, reason, ErrorKind.USER), info, False)

    @classmethod
    def retryable_failure_with_cleanup(
        cls, code: str, reason: str, info: TaskInfo | None = None
    ) -> PhaseInfo:
        """Like :meth:`retryable_failure`, and tear the task down."""
        return cls._failed(Phase.RETRYABLE_FAILURE, _err(code, reason, ErrorKind.USER), info, True)

    @classmethod
    def system_failure(cls, code: str, reason: str, info: TaskInfo | None = None) -> PhaseInfo:
        """PERMANENT_FAILURE caused by the platform (SYSTEM kind)."""
        return cls._failed(
            Phase.PERMANENT_FAILURE, _err(code, reason, ErrorKind.SYSTEM), info, False
        )

    @classmethod
    def system_failure_with_cleanup(
        cls, code: str, reason: str, info: TaskInfo | None = None
    ) -> PhaseInfo:
        """Like :meth:`system_failure`, and tear the task down."""
        return cls._failed(
            Phase.PERMANENT_FAILURE, _err(code, reason, ErrorKind.SYSTEM), info, True
        )

    @classmethod
    def system_retryable_failure(
        cls, code: str, reason: str, info: TaskInfo | None = None
    ) -> PhaseInfo:
        """RETRYABLE_FAILURE of SYSTEM kind: consumes the separate system-retry budget."""
        return cls._failed(
            Phase.RETRYABLE_FAILURE, _err(code, reason, ErrorKind.SYSTEM), info, False
        )

    @classmethod
    def system_retryable_failure_with_cleanup(
        cls, code: str, reason: str, info: TaskInfo | None = None
    ) -> PhaseInfo:
        """Like :meth:`system_retryable_failure`, and tear the task down."""
        return cls._failed(
            Phase.RETRYABLE_FAILURE, _err(code, reason, ErrorKind.SYSTEM), info, True
        )

    # -- derived values ------------------------------------------------------------------------

    def with_version(self, version: int) -> PhaseInfo:
        """A copy with another version.

        Unlike Go's ``WithVersion``, the copy keeps ``cleanup_on_failure``: dropping
        it silently would skip the teardown the plugin asked for.
        """
        return replace(self, version=version)

    def with_reason(self, reason: str) -> PhaseInfo:
        """A copy whose reason has ``reason`` appended (``"old, new"``); nothing else changes."""
        return replace(self, reason=f"{self.reason}, {reason}" if self.reason else reason)

    def to_dict(self) -> dict[str, JSONValue]:
        """A JSON-compatible dict; :meth:`from_dict` reverses it exactly."""
        return {
            "phase": self.phase.name,
            "version": self.version,
            "reason": self.reason,
            "info": None if self.info is None else self.info.to_dict(),
            "err": None if self.err is None else self.err.to_dict(),
            "cleanup_on_failure": self.cleanup_on_failure,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhaseInfo:
        """Rebuild a PhaseInfo from :meth:`to_dict` output."""
        info = data.get("info")
        err = data.get("err")
        return cls(
            phase=Phase.from_string(data["phase"]),
            version=int(data.get("version", DEFAULT_PHASE_VERSION)),
            reason=data.get("reason", ""),
            info=None if info is None else TaskInfo.from_dict(info),
            err=None if err is None else ExecutionError.from_dict(err),
            cleanup_on_failure=bool(data.get("cleanup_on_failure", False)),
        )

    def to_json(self) -> str:
        """Serialize to a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> PhaseInfo:
        """Parse :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))

    def __str__(self) -> str:
        if self.err is not None:
            return f"Phase<{self.phase.flyte_name}:{self.version} Error:{self.err}>"
        info = "<nil>" if self.info is None else str(self.info)
        return f"Phase<{self.phase.flyte_name}:{self.version} {info} Reason:{self.reason}>"


def _err(code: str, message: str, kind: ErrorKind) -> ExecutionError:
    return ExecutionError(code=code, message=message, kind=kind)


PhaseInfo.UNDEFINED = PhaseInfo(Phase.UNDEFINED)
