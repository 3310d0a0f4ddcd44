"""Execution records: what the store persists per execution, as plain data.

An :class:`ExecutionRecord` holds the ids, the storage references, attempt
counters, the current attempt's phase and version, the plugin state, the web-API
state machine's state (Flyte's ``webapi.State``), timestamps, the last error and
the scheduling fields from which the store derives its indexes. Records are
immutable; every change is a named function of :mod:`.machine` (the phases) or
:mod:`.bookkeeping` (the scheduler's own fields), which build the next record with
:func:`~scheduler._model.evolve.evolve`.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from plugins.core import ExecutionError, Phase, TaskExecutionID
from plugins.idl import JSONValue, datetime_from_json, datetime_to_json, utc
from scheduler._model.cache_key import CacheStatus
from scheduler._model.steps import Claim, TeardownKind

__all__ = ["Event", "ExecutionRecord", "WebAPIPhase", "WebAPIState"]


class WebAPIPhase(enum.IntEnum):
    """The web-API state machine's phase (Flyte's ``webapi.Phase``, state version 1)."""

    NOT_STARTED = 0
    ALLOCATION_TOKEN_ACQUIRED = 1
    RESOURCES_CREATED = 2
    SUCCEEDED = 3
    USER_FAILURE = 4
    SYSTEM_FAILURE = 5

    def is_terminal(self) -> bool:
        """Succeeded or failed."""
        return self >= WebAPIPhase.SUCCEEDED


@dataclass(frozen=True)
class WebAPIState:
    """The persisted state of a web-API attempt (Flyte's ``webapi.State``).

    Attributes:
        phase: Where the state machine is.
        phase_version: The version reported with the phase.
        resource_meta: The plugin's handle, encoded as JSON text by its PluginConfig.
        sync_failure_count: Failed Gets in this attempt (never reset by a success).
        error_message: The last Get error.
        allocation_start: When the attempt started waiting for a quota token.
        launched_at: When Create returned the handle (paces the Gets' back-off).
    """

    phase: WebAPIPhase = WebAPIPhase.NOT_STARTED
    phase_version: int = 0
    resource_meta: str | None = None
    sync_failure_count: int = 0
    error_message: str = ""
    allocation_start: datetime | None = None
    launched_at: datetime | None = None

    def to_dict(self) -> dict[str, JSONValue]:
        """A JSON-compatible dict."""
        return {
            "phase": self.phase.name,
            "phase_version": self.phase_version,
            "resource_meta": self.resource_meta,
            "sync_failure_count": self.sync_failure_count,
            "error_message": self.error_message,
            "allocation_start": datetime_to_json(self.allocation_start),
            "launched_at": datetime_to_json(self.launched_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WebAPIState:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            phase=WebAPIPhase[data.get("phase", "NOT_STARTED")],
            phase_version=int(data.get("phase_version", 0)),
            resource_meta=data.get("resource_meta"),
            sync_failure_count=int(data.get("sync_failure_count", 0)),
            error_message=data.get("error_message", ""),
            allocation_start=datetime_from_json(data.get("allocation_start")),
            launched_at=datetime_from_json(data.get("launched_at")),
        )


@dataclass(frozen=True)
class Event:
    """One entry of an execution's event log: a change of (attempt, phase, version).

    ``cache_status`` is the result cache's verdict (``MISS``, ``HIT``, ``POPULATED``...)
    on the events where the cache acted. ``job`` is the Celery job (its task id) whose
    result made the change, when a worker's job made it (``None``: the scheduler or a
    client did). ``actor`` is who asked for it, when someone did: the API token, the
    console user or the client that submitted, aborted or signalled (the audit trail).
    """

    attempt: int
    phase: Phase
    version: int
    reason: str
    occurred_at: datetime
    cache_status: CacheStatus | None = None
    job: str | None = None
    actor: str | None = None

    def to_json(self) -> str:
        """Compact JSON."""
        doc: dict[str, JSONValue] = {
            "attempt": self.attempt,
            "phase": self.phase.name,
            "version": self.version,
            "reason": self.reason,
            "occurred_at": datetime_to_json(self.occurred_at),
        }
        if self.cache_status is not None:
            doc["cache_status"] = self.cache_status.value
        if self.job is not None:
            doc["job"] = self.job
        if self.actor is not None:
            doc["actor"] = self.actor
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        """Parse :meth:`to_json` output."""
        data = json.loads(text)
        occurred = datetime_from_json(data["occurred_at"])
        assert occurred is not None
        return cls(
            attempt=int(data["attempt"]),
            phase=Phase.from_string(data["phase"]),
            version=int(data["version"]),
            reason=data.get("reason", ""),
            occurred_at=occurred,
            cache_status=_cache_status(data.get("cache_status")),
            job=data.get("job"),
            actor=data.get("actor"),
        )


_TIMES = ("created_at", "updated_at", "next_get_at", "deadline", "claimed_at", "not_before")
"""The record's own times, kept aware and in UTC."""


@dataclass(frozen=True)
class ExecutionRecord:
    """Everything the store knows about one execution.

    Attributes:
        id: ``project/domain/name`` (see :func:`execution_id`).
        project: The execution's project.
        domain: The execution's domain.
        name: The execution's name.
        task_type: The template's task type.
        plugin_id: The plugin that handles it, once resolved.
        task_name: The task's name: the template's ``id.name`` (a ``@task``'s module and
            function, ``tasks.divide``); empty when the template names none.
        submitted_by: Who submitted it (an API token's name, a console user), when the
            client said; its first event names them too.
        template_uri: Where ``task.pb`` lives.
        inputs_uri: The input prefix (``inputs.pb`` lives under it).
        output_prefix: The execution's output prefix; attempts write below it.
        created_at: When it was submitted.
        updated_at: When it last changed.
        attempt: The current attempt, from 0.
        user_failures: Attempts that failed with USER errors.
        system_failures: Attempts that failed with SYSTEM errors.
        phase: The current attempt's phase.
        phase_version: The current attempt's phase version.
        reason: Why the phase is what it is.
        finished: Whether the execution as a whole is over (no more attempts).
        plugin_state_version: Version of ``plugin_state``.
        plugin_state: A core plugin's JSON state.
        webapi: The web-API state machine's state.
        last_error: The last error of any attempt.
        pending: Whether the scheduler has work to do for it now.
        next_get_at: When its next Get is due.
        waiting_namespace: The quota namespace whose token it waits for.
        waiting_queue: The Celery queue it waits to be launched into, while that queue
            holds more jobs than ``FLYTE_CELERY_QUEUE_BACKLOG``.
        deadline: When the current attempt times out.
        claim: The step a worker claimed for an attempt, if any.
        claimed_at: When that claim was made.
        retries: User retries allowed (the template's ``metadata.retries``).
        timeout: The attempt timeout (the template's ``metadata.timeout``), if any.
        token_namespace: The quota namespace whose token the attempt holds.
        teardown: Why the attempt is being torn down, while it is.
        teardown_reason: Why (the abort reason).
        not_before: Pending work must wait until then (system-retry backoff).
        phase_info: The last PhaseInfo of the attempt, as JSON.
        signal_pending: A signal arrived while a Get was in flight; Get again at once.
        cache_key: The result-cache key digest, when the task is cached.
        cache_serialize: Identical executions run one at a time (a reservation).
        cache_overwrite: Skip the lookup, run, and replace the entry.
        cache_status: What the result cache did.
        counted: Whether the store counts it under its task type and phase (for the
            metrics); records of releases without those counts are not, until rewritten.
        version: The compare-and-set version; managed by the store.
    """

    id: str
    project: str
    domain: str
    name: str
    task_type: str
    template_uri: str
    inputs_uri: str
    output_prefix: str
    created_at: datetime
    updated_at: datetime
    plugin_id: str = ""
    task_name: str = ""
    submitted_by: str = ""
    attempt: int = 0
    user_failures: int = 0
    system_failures: int = 0
    phase: Phase = Phase.UNDEFINED
    phase_version: int = 0
    reason: str = ""
    finished: bool = False
    plugin_state_version: int = 0
    plugin_state: JSONValue = None
    webapi: WebAPIState = field(default_factory=WebAPIState)
    last_error: ExecutionError | None = None
    pending: bool = False
    next_get_at: datetime | None = None
    waiting_namespace: str | None = None
    waiting_queue: str | None = None
    deadline: datetime | None = None
    claim: Claim | None = None
    claimed_at: datetime | None = None
    retries: int = 0
    timeout: timedelta | None = None
    token_namespace: str | None = None
    teardown: TeardownKind | None = None
    teardown_reason: str = ""
    not_before: datetime | None = None
    phase_info: JSONValue = None
    signal_pending: bool = False
    cache_key: str | None = None
    cache_serialize: bool = False
    cache_overwrite: bool = False
    cache_status: CacheStatus | None = None
    counted: bool = False
    version: int = 0

    def __post_init__(self) -> None:
        # Run on every copy (evolve): the checks skip what is already normal, which on
        # the hot path is everything.
        state = self.__dict__
        if type(self.phase) is not Phase:
            state["phase"] = Phase(self.phase)
        for name in _TIMES:
            value = state[name]
            if value is not None and value.tzinfo is not UTC:
                state[name] = utc(value)

    def to_dict(self) -> dict[str, JSONValue]:
        """A JSON-compatible dict, without the CAS version (the store keeps that apart)."""
        return {
            "id": self.id,
            "project": self.project,
            "domain": self.domain,
            "name": self.name,
            "task_type": self.task_type,
            "plugin_id": self.plugin_id,
            "task_name": self.task_name,
            "submitted_by": self.submitted_by,
            "template_uri": self.template_uri,
            "inputs_uri": self.inputs_uri,
            "output_prefix": self.output_prefix,
            "created_at": datetime_to_json(self.created_at),
            "updated_at": datetime_to_json(self.updated_at),
            "attempt": self.attempt,
            "user_failures": self.user_failures,
            "system_failures": self.system_failures,
            "phase": self.phase.name,
            "phase_version": self.phase_version,
            "reason": self.reason,
            "finished": self.finished,
            "plugin_state_version": self.plugin_state_version,
            "plugin_state": self.plugin_state,
            "webapi": self.webapi.to_dict(),
            "last_error": None if self.last_error is None else self.last_error.to_dict(),
            "pending": self.pending,
            "next_get_at": datetime_to_json(self.next_get_at),
            "waiting_namespace": self.waiting_namespace,
            "waiting_queue": self.waiting_queue,
            "deadline": datetime_to_json(self.deadline),
            "claim": None if self.claim is None else str(self.claim),
            "claimed_at": datetime_to_json(self.claimed_at),
            "retries": self.retries,
            "timeout": None if self.timeout is None else self.timeout.total_seconds(),
            "token_namespace": self.token_namespace,
            "teardown": None if self.teardown is None else self.teardown.value,
            "teardown_reason": self.teardown_reason,
            "not_before": datetime_to_json(self.not_before),
            "phase_info": self.phase_info,
            "signal_pending": self.signal_pending,
            "cache_key": self.cache_key,
            "cache_serialize": self.cache_serialize,
            "cache_overwrite": self.cache_overwrite,
            "cache_status": None if self.cache_status is None else self.cache_status.value,
            "counted": self.counted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], version: int = 0) -> ExecutionRecord:
        """Rebuild from :meth:`to_dict` output; missing optional fields take defaults."""
        created = datetime_from_json(data["created_at"])
        updated = datetime_from_json(data.get("updated_at") or data["created_at"])
        if created is None or updated is None:
            raise ValueError(f"execution record {data.get('id')!r} has no created_at")
        err = data.get("last_error")
        return cls(
            id=data["id"],
            project=data["project"],
            domain=data["domain"],
            name=data["name"],
            task_type=data["task_type"],
            plugin_id=data.get("plugin_id", ""),
            task_name=data.get("task_name", ""),
            submitted_by=data.get("submitted_by", ""),
            template_uri=data["template_uri"],
            inputs_uri=data["inputs_uri"],
            output_prefix=data["output_prefix"],
            created_at=created,
            updated_at=updated,
            attempt=int(data.get("attempt", 0)),
            user_failures=int(data.get("user_failures", 0)),
            system_failures=int(data.get("system_failures", 0)),
            phase=Phase.from_string(data.get("phase", "UNDEFINED")),
            phase_version=int(data.get("phase_version", 0)),
            reason=data.get("reason", ""),
            finished=bool(data.get("finished", False)),
            plugin_state_version=int(data.get("plugin_state_version", 0)),
            plugin_state=data.get("plugin_state"),
            webapi=WebAPIState.from_dict(data.get("webapi") or {}),
            last_error=None if err is None else ExecutionError.from_dict(err),
            pending=bool(data.get("pending", False)),
            next_get_at=datetime_from_json(data.get("next_get_at")),
            waiting_namespace=data.get("waiting_namespace"),
            waiting_queue=data.get("waiting_queue"),
            deadline=datetime_from_json(data.get("deadline")),
            claim=None if data.get("claim") is None else Claim.parse(data["claim"]),
            claimed_at=datetime_from_json(data.get("claimed_at")),
            retries=int(data.get("retries", 0)),
            timeout=None if data.get("timeout") is None else timedelta(seconds=data["timeout"]),
            token_namespace=data.get("token_namespace"),
            teardown=None if data.get("teardown") is None else TeardownKind(data["teardown"]),
            teardown_reason=data.get("teardown_reason", ""),
            not_before=datetime_from_json(data.get("not_before")),
            phase_info=data.get("phase_info"),
            signal_pending=bool(data.get("signal_pending", False)),
            cache_key=data.get("cache_key"),
            cache_serialize=bool(data.get("cache_serialize", False)),
            cache_overwrite=bool(data.get("cache_overwrite", False)),
            cache_status=_cache_status(data.get("cache_status")),
            counted=bool(data.get("counted", False)),
            version=version,
        )

    def task_execution_id(self) -> TaskExecutionID:
        """The identity of the current attempt; its generated name is the idempotency key."""
        return TaskExecutionID.create(
            project=self.project,
            domain=self.domain,
            name=self.name,
            attempt=self.attempt,
            task_name=self.task_type,
        )

    @property
    def token(self) -> str:
        """The quota token of the current attempt: its generated name."""
        return self.task_execution_id().generated_name

    def event_key(self) -> tuple[int, Phase, int]:
        """What an event records a change of: (attempt, phase, phase version)."""
        return self.attempt, self.phase, self.phase_version

    def to_event(
        self,
        cache_status: CacheStatus | None = None,
        job: str | None = None,
        actor: str | None = None,
    ) -> Event:
        """The event that announces this record's (attempt, phase, version)."""
        return Event(
            self.attempt,
            self.phase,
            self.phase_version,
            self.reason,
            self.updated_at,
            cache_status,
            job,
            actor,
        )


def _cache_status(value: str | None) -> CacheStatus | None:
    return None if value is None else CacheStatus(value)
