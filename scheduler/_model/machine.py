"""The phase state machine of an execution, as pure functions on records.

This is Flyte's web-API state machine (``internal/webapi``: allocate, launch,
monitor, abort, finalize) plus propeller's attempt handling (user retries, a
separate system-retry budget, timeouts), with Flyte's known gaps fixed. Every
function takes the current record and ``now`` and returns the next record (and,
when an attempt ends, the event of its end); none does I/O, so the scheduler
and the workers share them and tests need no clock.

Steps are claimed on the record (a :class:`~scheduler._model.steps.Claim`) before
a job is published; a job acts only if the record still carries its claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from plugins.core import ErrorKind, ExecutionError, Phase, PhaseInfo, TaskInfo
from plugins.idl import JSONValue
from plugins.webapi import CachingConfig
from scheduler._model.evolve import evolve
from scheduler._model.record import Event, ExecutionRecord, WebAPIPhase, WebAPIState
from scheduler._model.steps import Claim, Step, TeardownKind
from scheduler.settings import RetryPolicy

__all__ = [
    "ABORTED_REASON",
    "AUTO_REFRESH_CACHE_FAILED",
    "CLEANUP_FAILED",
    "TASK_FAILED_WITH_ERROR",
    "TIMED_OUT",
    "allocated",
    "backlogged",
    "claimed",
    "cleanup_failed",
    "created",
    "delete_retry",
    "denied",
    "finish_attempt",
    "get_failed",
    "handled",
    "observed",
    "request_teardown",
    "signal",
    "teardown_phase_info",
    "to_webapi_phase",
]

TASK_FAILED_WITH_ERROR = "TaskFailedWithError"
AUTO_REFRESH_CACHE_FAILED = "AutoRefreshCacheFailed"
TIMED_OUT = "TimedOut"
CLEANUP_FAILED = "CleanupFailed"
ABORTED_REASON = "Aborted"
QUOTA_WAIT_REASON = "Quota for task has exceeded. Waiting for the resource."
LAUNCHED_VERSION = 2  # Flyte's "Queued v2, launched": differs from every earlier Queued v0


def claimed(record: ExecutionRecord, now: datetime, step: Step) -> ExecutionRecord:
    """Claim ``step`` of the record's current attempt (the outbox: write, then publish)."""
    return evolve(record, claim=Claim(step, record.attempt), claimed_at=now)


def _with_phase(record: ExecutionRecord, info: PhaseInfo, now: datetime) -> ExecutionRecord:
    return evolve(
        record,
        phase=info.phase,
        phase_version=info.version,
        reason=info.reason or (str(info.err) if info.err else ""),
        phase_info=info.to_dict(),
        updated_at=now,
    )


def _timeless(phase_info: JSONValue) -> JSONValue:
    """A stored PhaseInfo without the times a plugin stamps on every Status call."""
    if not isinstance(phase_info, dict) or not isinstance(phase_info.get("info"), dict):
        return phase_info
    info = {k: v for k, v in phase_info["info"].items() if k not in ("occurred_at", "reported_at")}
    return {**phase_info, "info": info}


def _same_phase_info(record: ExecutionRecord, info: PhaseInfo) -> bool:
    """Whether ``info`` says what the record already holds (phase, version, details)."""
    if record.phase is not info.phase or record.phase_version != info.version:
        return False
    return bool(_timeless(info.to_dict()) == _timeless(record.phase_info))


def to_webapi_phase(phase: Phase) -> WebAPIPhase:
    """Flyte's ``ToPluginPhase``: where the web-API state machine stands after Status.

    Raises:
        ValueError: WAITING_FOR_CACHE or ABORTED, which Status may not return
            (Flyte's ``RETURNED_UNKNOWN``).
    """
    if phase in (Phase.UNDEFINED, Phase.NOT_READY):
        return WebAPIPhase.NOT_STARTED
    if phase in (Phase.INITIALIZING, Phase.WAITING_FOR_RESOURCES, Phase.QUEUED, Phase.RUNNING):
        return WebAPIPhase.RESOURCES_CREATED
    if phase is Phase.SUCCESS:
        return WebAPIPhase.SUCCEEDED
    if phase.is_failure():
        return WebAPIPhase.USER_FAILURE
    raise ValueError(f"plugin status returned phase {phase.name}, which a plugin may not report")


# -- allocation and launch ---------------------------------------------------------------------


def allocated(
    record: ExecutionRecord, now: datetime, namespace: str | None, step: Step
) -> ExecutionRecord:
    """A token was granted (or none was needed): claim the launch step (``create`` or ``do``)."""
    reason = "Allocation token required" if namespace else "No allocation token required"
    info = PhaseInfo.queued(now, 0, reason)
    return evolve(
        claimed(_with_phase(record, info, now), now, step),
        webapi=evolve(
            record.webapi,
            phase=WebAPIPhase.ALLOCATION_TOKEN_ACQUIRED,
            allocation_start=record.webapi.allocation_start or now,
        ),
        token_namespace=namespace,
        waiting_namespace=None,
        waiting_queue=None,
        deadline=None if record.timeout is None else now + record.timeout,
        pending=False,
    )


def denied(record: ExecutionRecord, now: datetime, namespace: str) -> ExecutionRecord:
    """No token: wait in ``namespace`` until one frees (WAITING_FOR_RESOURCES v0)."""
    info = PhaseInfo.waiting_for_resources(now, 0, QUOTA_WAIT_REASON)
    return evolve(
        _with_phase(record, info, now),
        webapi=evolve(
            record.webapi,
            phase=WebAPIPhase.NOT_STARTED,
            allocation_start=record.webapi.allocation_start or now,
        ),
        waiting_namespace=namespace,
        waiting_queue=None,
        pending=False,
    )


def backlogged(record: ExecutionRecord, now: datetime, queue: str, reason: str) -> ExecutionRecord:
    """Not launched: ``queue`` holds more jobs than workers drain; wait for room there.

    Still QUEUED v0 (queued, for a worker), with ``reason`` saying why: no event is logged,
    so a burst's wait costs no Redis memory per execution beyond the line.
    """
    info = PhaseInfo.queued(now, 0, reason)
    return evolve(_with_phase(record, info, now), waiting_queue=queue, pending=False)


def created(record: ExecutionRecord, now: datetime, resource_meta: str) -> ExecutionRecord:
    """Create returned a handle: QUEUED v2 "launched", and the first Get is due at once."""
    info = PhaseInfo.queued(now, LAUNCHED_VERSION, "launched")
    return evolve(
        _with_phase(record, info, now),
        webapi=evolve(
            record.webapi,
            phase=WebAPIPhase.RESOURCES_CREATED,
            phase_version=LAUNCHED_VERSION,
            resource_meta=resource_meta,
            launched_at=now,
        ),
        claim=None,
        claimed_at=None,
        next_get_at=None if record.teardown else now,
        pending=record.teardown is not None,
    )


def observed(
    record: ExecutionRecord, now: datetime, info: PhaseInfo, caching: CachingConfig
) -> ExecutionRecord:
    """Status reported a non-terminal phase: record it and schedule the next Get.

    The next Get waits as long as the job has run since Create, from the plugin's
    ``poll_backoff`` up to its resync interval (:meth:`CachingConfig.poll_interval`); a
    record launched before the back-off existed waits the resync interval. A signal that
    arrived while the Get was in flight makes the next Get immediate.
    """
    webapi_phase = to_webapi_phase(info.phase)
    next_get = now if record.signal_pending else _next_poll(record, now, caching)
    seen = evolve(record.webapi, phase=webapi_phase, phase_version=info.version)
    # Still RUNNING as before (the common poll): keep the phase and when it last changed,
    # so that only the claim and the next Get change and the store writes just those.
    same = seen == record.webapi and _same_phase_info(record, info)
    return evolve(
        record if same else _with_phase(record, info, now),
        webapi=seen,
        claim=None,
        claimed_at=None,
        signal_pending=False,
        next_get_at=None if record.teardown else next_get,
        pending=record.teardown is not None,
    )


def _next_poll(record: ExecutionRecord, now: datetime, caching: CachingConfig) -> datetime:
    """When the next Get is due: after the back-off, or the resync for an older record."""
    launched = record.webapi.launched_at
    wait = caching.resync_interval if launched is None else caching.poll_interval(now - launched)
    return now + wait


def handled(
    record: ExecutionRecord,
    now: datetime,
    info: PhaseInfo,
    next_round: datetime,
    state: tuple[int, JSONValue],
) -> ExecutionRecord:
    """A core plugin's round returned a non-terminal PhaseInfo: keep its state, plan the next."""
    return evolve(
        _with_phase(record, info, now),
        webapi=evolve(
            record.webapi, phase=WebAPIPhase.RESOURCES_CREATED, phase_version=info.version
        ),
        plugin_state_version=state[0],
        plugin_state=state[1],
        claim=None,
        claimed_at=None,
        signal_pending=False,
        next_get_at=None if record.teardown else (now if record.signal_pending else next_round),
        pending=record.teardown is not None,
    )


def get_failed(
    record: ExecutionRecord, now: datetime, message: str, caching: CachingConfig
) -> ExecutionRecord | PhaseInfo:
    """A Get (or Status) failed: count it, and fail the attempt past the budget.

    Unlike Flyte, the budget applies even if an earlier Get succeeded: the
    attempt fails with the last error instead of reporting a stale phase forever. The
    next Get comes as a successful one's would (the back-off, up to the resync interval).

    Returns:
        The next record, or the failure PhaseInfo that ends the attempt.
    """
    failures = record.webapi.sync_failure_count + 1
    if failures > caching.max_system_failures:
        return PhaseInfo.failure(AUTO_REFRESH_CACHE_FAILED, message)
    return evolve(
        record,
        webapi=evolve(record.webapi, sync_failure_count=failures, error_message=message),
        claim=None,
        claimed_at=None,
        next_get_at=None if record.teardown else _next_poll(record, now, caching),
        pending=record.teardown is not None,
        updated_at=now,
    )


def signal(record: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """Ask for a Get now instead of at the next resync (Flyte's ``TaskRefreshIndicator``)."""
    if (
        record.finished
        or record.teardown is not None
        or record.webapi.phase is not WebAPIPhase.RESOURCES_CREATED
    ):
        return record
    if record.claim is not None and record.claim.step in (Step.GET, Step.HANDLE):
        return evolve(record, signal_pending=True)
    return evolve(record, next_get_at=now, updated_at=now)


def request_teardown(
    record: ExecutionRecord, now: datetime, kind: TeardownKind, reason: str
) -> ExecutionRecord:
    """Ask the scheduler to tear the attempt down (an abort wins over a timeout)."""
    if record.finished or record.teardown is TeardownKind.ABORT:
        return record
    return evolve(
        record,
        teardown=kind,
        teardown_reason=reason,
        # Delete retries count from zero, not on top of this attempt's failed Gets.
        webapi=evolve(record.webapi, sync_failure_count=0),
        deadline=None,
        next_get_at=None,
        waiting_namespace=None,
        waiting_queue=None,
        pending=True,
        not_before=None,
        updated_at=now,
    )


def delete_retry(
    record: ExecutionRecord, now: datetime, delay: timedelta, failures: int, message: str
) -> ExecutionRecord:
    """A Delete failed: release its claim and try again after ``delay``."""
    return evolve(
        record,
        claim=None,
        claimed_at=None,
        pending=True,
        not_before=now + delay,
        webapi=evolve(record.webapi, sync_failure_count=failures, error_message=message),
        updated_at=now,
    )


def cleanup_failed(info: PhaseInfo, message: str) -> PhaseInfo:
    """How a teardown ends when its cleanup (Delete, or a core plugin's abort) kept failing.

    An abort still ends ABORTED, now carrying a SYSTEM ``CleanupFailed`` error; a
    timeout still fails its attempt, with the cleanup failure added to its message.
    """
    if info.phase is Phase.ABORTED:
        err = ExecutionError(code=CLEANUP_FAILED, message=message, kind=ErrorKind.SYSTEM)
        return PhaseInfo(Phase.ABORTED, 0, f"{info.reason}; {message}", info.info, err)
    if info.err is None:
        return info
    err = evolve(info.err, message=f"{info.err.message}; {message}")
    return PhaseInfo(info.phase, info.version, info.reason, info.info, err)


def teardown_phase_info(record: ExecutionRecord, now: datetime) -> PhaseInfo:
    """How a torn-down attempt ends: ABORTED for an abort, a retryable failure for a timeout."""
    if record.teardown is TeardownKind.TIMEOUT:
        limit = record.timeout.total_seconds() if record.timeout else 0
        return PhaseInfo.retryable_failure(TIMED_OUT, f"task timed out after {limit:g}s")
    reason = record.teardown_reason or ABORTED_REASON
    return PhaseInfo(Phase.ABORTED, 0, reason, TaskInfo(occurred_at=now))


# -- the end of an attempt ---------------------------------------------------------------------


def finish_attempt(
    record: ExecutionRecord, now: datetime, info: PhaseInfo, policy: RetryPolicy
) -> tuple[ExecutionRecord, list[Event]]:
    """Apply a terminal PhaseInfo: finish the execution, or start the next attempt.

    The caller must already have released the attempt's token (release is
    idempotent, so releasing before the write is safe). USER failures consume
    the template's retries, SYSTEM failures the system-retry budget; both back off
    exponentially (Flyte retries user failures at once, which hammers a failing
    remote). An ABORTED end keeps the error it carries (e.g. a failed cleanup).

    Returns:
        The next record and the events to log before its own.
    """
    if not info.phase.is_terminal():
        raise ValueError(f"finish_attempt needs a terminal phase, got {info.phase.name}")
    if record.teardown is TeardownKind.ABORT and info.phase not in (Phase.SUCCESS, Phase.ABORTED):
        # The user aborted while the attempt was failing: honour the abort, start nothing new.
        reason = record.teardown_reason or ABORTED_REASON
        info = PhaseInfo(Phase.ABORTED, 0, reason, info.info, info.err)
    ended = _with_phase(record, info, now)
    base = evolve(
        ended,
        claim=None,
        claimed_at=None,
        next_get_at=None,
        deadline=None,
        waiting_namespace=None,
        waiting_queue=None,
        token_namespace=None,
        pending=False,
        not_before=None,
        signal_pending=False,
        teardown=None,
        teardown_reason="",
        webapi=evolve(ended.webapi, phase=_final_webapi_phase(info)),
    )
    if info.phase is Phase.SUCCESS:
        return evolve(base, finished=True), []
    if info.phase is Phase.ABORTED:
        return evolve(base, finished=True, last_error=info.err or record.last_error), []
    err = info.err or ExecutionError(code="Unknown", message="Unknown error message")
    user = evolve(base, last_error=err)
    if err.kind is ErrorKind.SYSTEM:
        failures = record.system_failures + 1
        retry = info.phase is Phase.RETRYABLE_FAILURE and failures <= policy.max_system_retries
        counted = evolve(user, system_failures=failures)
        delay = policy.system_delay(failures)
    else:
        failures = record.user_failures + 1
        retry = info.phase is Phase.RETRYABLE_FAILURE and failures <= record.retries
        counted = evolve(user, user_failures=failures)
        delay = policy.user_delay(failures)
    if not retry:
        final = PhaseInfo.failed(Phase.PERMANENT_FAILURE, err, info.info)
        events = [] if info.phase is Phase.PERMANENT_FAILURE else [ended.to_event()]
        return evolve(_with_phase(counted, final, now), finished=True), events
    next_attempt = evolve(
        counted,
        attempt=record.attempt + 1,
        phase=Phase.QUEUED,
        phase_version=0,
        reason=f"retrying after {err.code}: {err.message}",
        phase_info=None,
        webapi=WebAPIState(),
        plugin_state=None,
        plugin_state_version=0,
        pending=True,
        not_before=now + delay if delay else None,
    )
    return next_attempt, [ended.to_event()]


def _final_webapi_phase(info: PhaseInfo) -> WebAPIPhase:
    if info.phase is Phase.SUCCESS:
        return WebAPIPhase.SUCCEEDED
    if info.err is not None and info.err.kind is ErrorKind.SYSTEM:
        return WebAPIPhase.SYSTEM_FAILURE
    return WebAPIPhase.USER_FAILURE
