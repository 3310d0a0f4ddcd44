"""What a worker does for each job: claim-checked plugin calls written back with CAS.

Every job names an execution and an attempt. The worker acts only if the record
still carries the job's claim (``create:3``); a redelivered or duplicate message
finds the claim gone and does nothing. The plugin call runs under the plugin's
global rate limiter (read for Get, write for Create, Delete and Do), and its
result is applied with :func:`update`, a compare-and-set loop that re-reads
and re-applies if another writer (a signal, an abort request) got in between,
as long as the claim is still there. Plugin exceptions never escape: they
become the failure §3.3 prescribes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from plugins.core import Phase, PhaseInfo, PluginState, TaskInfo
from plugins.core import TaskExecutionContext as CoreContext
from plugins.io import (
    RemoteFileOutputWriter,
    declares_outputs,
    phase_info_for_output_error,
    validate_output,
)
from plugins.webapi import DeleteContext, GetContext, StatusContext, call_async, call_sync
from scheduler import machine
from scheduler.caching import CacheSteps
from scheduler.machine import RetryPolicy
from scheduler.records import Event, ExecutionRecord
from scheduler.runtime import AttemptContext, LoadedPlugin, Runtime

__all__ = ["Steps", "describe", "utcnow"]

log = logging.getLogger(__name__)

Apply = Callable[[ExecutionRecord], tuple[ExecutionRecord, list[Event]] | None]


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for failure messages."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class _Observation:
    info: PhaseInfo | None = None
    error: str = ""


class Steps:
    """Runs claimed steps of executions.

    Args:
        runtime: The process's runtime.
        policy: How failed attempts are retried.
        clock: Returns the current time (injectable for tests).
    """

    def __init__(
        self, runtime: Runtime, policy: RetryPolicy, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.runtime = runtime
        self.policy = policy
        self.clock = clock
        self.cache = CacheSteps(runtime, policy)

    # -- shared machinery ----------------------------------------------------------------------

    def update(
        self,
        execution_id: str,
        expected_claim: str | None,
        apply: Apply,
        known: ExecutionRecord | None = None,
    ) -> ExecutionRecord | None:
        """Apply ``apply`` to the latest record while it carries ``expected_claim``.

        Args:
            execution_id: The execution.
            expected_claim: The claim the record must still carry (``None``: any).
            apply: Computes the new record and extra events from the current one.
            known: A record just read; tried first, which saves a round trip when
                nobody else wrote in between (a conflict re-reads).

        Returns:
            The written record, or ``None`` if the claim is gone (another job won) or
            ``apply`` chose to do nothing.
        """
        for _ in range(50):
            current, known = known or self.runtime.store.get(execution_id), None
            if current is None or current.finished:
                return None
            if expected_claim is not None and current.claim != expected_claim:
                return None
            change = apply(current)
            if change is None:
                return None
            new, events = change
            written = self.runtime.store.transition(current, new, events)
            if written is not None:
                # Wake the scheduler for work it should do now: no polling delay.
                due_now = written.next_get_at is not None and written.next_get_at <= self.clock()
                if written.pending or written.finished or due_now:
                    self.runtime.wake_scheduler()
                return written
        raise RuntimeError(f"execution {execution_id}: too much contention to write a result")

    def _claimed(self, execution_id: str, step: str, attempt: int) -> ExecutionRecord | None:
        record = self.runtime.store.get(execution_id)
        if record is None or record.finished or record.claim != machine.claim(step, attempt):
            log.info("%s %s:%s: claim gone, nothing to do", execution_id, step, attempt)
            return None
        return record

    def finish(
        self,
        execution_id: str,
        expected_claim: str | None,
        info: PhaseInfo | Callable[[ExecutionRecord], PhaseInfo],
        known: ExecutionRecord | None = None,
        before: Sequence[Event] = (),
        *,
        cache_status: str | None = None,
    ) -> ExecutionRecord | None:
        """End the attempt: release its token, then finish or retry (Flyte's finalize).

        Args:
            execution_id: The execution.
            expected_claim: The claim the record must still carry.
            info: The terminal PhaseInfo, or a function that derives it from the
                latest record (so a concurrent change, like an abort, is seen).
            known: A record just read, tried first.
            before: Events to log first (e.g. the launch, when Create and the first
                Get finished the attempt in one job).
            cache_status: What the result cache did, when the attempt succeeded.
        """

        def apply(record: ExecutionRecord) -> tuple[ExecutionRecord, list[Event]]:
            final = info(record) if callable(info) else info
            self.runtime.release_token(record)
            new, events = machine.finish_attempt(record, self.clock(), final, self.policy)
            if cache_status is not None and new.phase is Phase.SUCCESS:
                new = replace(new, cache_status=cache_status)
            return new, [*before, *events]

        return self.update(execution_id, expected_claim, apply, known)

    def _complete(
        self,
        record: ExecutionRecord,
        expected: str,
        info: PhaseInfo,
        actx: AttemptContext,
        before: Sequence[Event] = (),
    ) -> ExecutionRecord | None:
        """A terminal PhaseInfo from the plugin: validate and commit outputs on success."""
        if info.phase is Phase.SUCCESS:
            try:
                template = actx.context.task_reader.read()
                committer = RemoteFileOutputWriter(self.runtime.data_store, actx.paths)
                reader = actx.writer.reader
                declared = declares_outputs(template)
                err = validate_output(reader, outputs_declared=declared, committer=committer)
                if err is None and not declared and reader is not None and not reader.is_file():
                    # Flyte drops outputs the interface does not declare; we keep them.
                    literals, _ = reader.read()
                    if literals is not None:
                        committer.put(reader)
            except Exception as exc:
                info = PhaseInfo.system_retryable_failure("OutputCommitFailed", describe(exc))
            else:
                if err is not None:
                    info = phase_info_for_output_error(err, info.info)
        status = None
        if info.phase is Phase.SUCCESS:
            # Populate before SUCCESS is written: a waiter that sees the owner done finds
            # the entry. A write that then loses a race leaves a valid entry behind.
            status = self.cache.populate(record, self.clock())
        return self.finish(record.id, expected, info, record, before, cache_status=status)

    def _begin(
        self, execution_id: str, step: str, attempt: int
    ) -> tuple[str, ExecutionRecord, LoadedPlugin] | None:
        """Check the job's claim and load its plugin: (claim, record, plugin), or None to stop."""
        expected = machine.claim(step, attempt)
        record = self._claimed(execution_id, step, attempt)
        if record is None:
            return None
        loaded = self._plugin(record, expected)
        if loaded is None:
            return None
        return expected, record, loaded

    def _plugin(self, record: ExecutionRecord, expected: str) -> LoadedPlugin | None:
        try:
            return self.runtime.plugin(record.plugin_id)
        except Exception as exc:
            self.finish(
                record.id,
                expected,
                PhaseInfo.system_failure(getattr(exc, "code", "PluginLoadFailed"), describe(exc)),
            )
            return None

    # -- create and do -------------------------------------------------------------------------

    def create(self, execution_id: str, attempt: int) -> None:
        """Create the remote resource of an attempt (once its claim is checked)."""
        begun = self._begin(execution_id, "create", attempt)
        if begun is None:
            return
        expected, record, loaded = begun
        actx = self.runtime.attempt_context(record)
        self.runtime.limiter(loaded.id, "write").acquire()
        try:
            meta, resource = call_sync(loaded.plugin.create, actx.context)  # type: ignore[union-attr]
            meta_json = loaded.config.encode_resource_meta(meta)
        except Exception as exc:
            log.info("%s create failed: %s", execution_id, describe(exc))
            self.finish(
                execution_id,
                expected,
                PhaseInfo.retryable_failure(machine.TASK_FAILED_WITH_ERROR, describe(exc)),
            )
            return
        if resource is None:
            # The first Get comes at once (Flyte's sync-on-create), in this same job: one
            # message and one write fewer than a separate Get job.
            observation = self._first_get(loaded, actx, meta)
        else:
            # Create answered with the resource too: Status may finish the attempt now.
            observation = self._status(loaded, actx, meta, resource)
        now = self.clock()
        launched = machine.created(record, now, meta_json).to_event()
        if observation.info is not None and observation.info.phase.is_terminal():
            self._complete(record, expected, observation.info, actx, before=[launched])
            return
        caching = loaded.config.caching

        def apply(r: ExecutionRecord) -> tuple[ExecutionRecord, list[Event]]:
            created = machine.created(r, now, meta_json)
            if observation.info is not None:
                observed = machine.observed(created, now, observation.info, caching.resync_interval)
                return observed, [launched] if observed.event_key() != created.event_key() else []
            outcome = machine.get_failed(
                created,
                now,
                observation.error,
                caching.max_system_failures,
                caching.resync_interval,
            )
            if isinstance(outcome, PhaseInfo):
                self.runtime.release_token(created)
                ended, events = machine.finish_attempt(created, now, outcome, self.policy)
                return ended, [launched, *events]
            return outcome, []

        self.update(execution_id, expected, apply, record)

    def _first_get(self, loaded: LoadedPlugin, actx: AttemptContext, meta: Any) -> _Observation:
        try:
            self.runtime.limiter(loaded.id, "read").acquire()
            resource = call_sync(loaded.plugin.get, GetContext(meta))  # type: ignore[union-attr]
        except Exception as exc:
            return _Observation(error=describe(exc))
        return self._status(loaded, actx, meta, resource)

    def do(self, execution_id: str, attempt: int) -> None:
        """Run a sync plugin's one call."""
        begun = self._begin(execution_id, "do", attempt)
        if begun is None:
            return
        expected, record, loaded = begun
        actx = self.runtime.attempt_context(record)
        self.runtime.limiter(loaded.id, "write").acquire()
        try:
            info = call_sync(loaded.plugin.do, actx.context)  # type: ignore[union-attr]
        except Exception as exc:
            log.info("%s do failed: %s", execution_id, describe(exc))
            info = PhaseInfo.retryable_failure(machine.TASK_FAILED_WITH_ERROR, describe(exc))
        if not isinstance(info, PhaseInfo) or not info.phase.is_terminal():
            got = info.phase.name if isinstance(info, PhaseInfo) else type(info).__name__
            info = PhaseInfo.system_failure(
                "BadPluginResult", f"sync plugin do() must return a terminal PhaseInfo, got {got}"
            )
        self._complete(record, expected, info, actx)

    # -- get -----------------------------------------------------------------------------------

    def _status(
        self, loaded: LoadedPlugin, actx: AttemptContext, meta: Any, resource: Any
    ) -> _Observation:
        ctx = StatusContext(
            task_execution_metadata=actx.context.task_execution_metadata,
            task_reader=actx.context.task_reader,
            input_reader=actx.context.input_reader,
            output_writer=actx.writer,
            secret_manager=actx.context.secret_manager,
            data_store=actx.context.data_store,
            resource_meta=meta,
            resource=resource,
        )
        try:
            info = call_sync(loaded.plugin.status, ctx)  # type: ignore[union-attr]
            machine.to_webapi_phase(info.phase)
        except Exception as exc:
            return _Observation(error=describe(exc))
        return _Observation(info=info)

    async def _observe(
        self, loaded: LoadedPlugin, record: ExecutionRecord
    ) -> tuple[_Observation, AttemptContext]:
        actx = self.runtime.attempt_context(record)
        try:
            meta = loaded.config.decode_resource_meta(record.webapi.resource_meta or "null")
            await asyncio.to_thread(self.runtime.limiter(loaded.id, "read").acquire)
            resource = await call_async(loaded.plugin.get, GetContext(meta))  # type: ignore[union-attr]
        except Exception as exc:
            return _Observation(error=describe(exc)), actx
        return await asyncio.to_thread(self._status, loaded, actx, meta, resource), actx

    def get(self, items: list[tuple[str, int]]) -> None:
        """Get a batch of executions of one plugin: the calls run concurrently on one loop."""
        by_plugin: dict[str, list[ExecutionRecord]] = {}
        for execution_id, attempt in items:
            record = self._claimed(execution_id, "get", attempt)
            if record is not None:
                by_plugin.setdefault(record.plugin_id, []).append(record)
        for records in by_plugin.values():
            loaded = self._plugin(records[0], records[0].claim or "")
            if loaded is None:
                for record in records[1:]:
                    self._plugin(record, record.claim or "")
                continue
            results = asyncio.run(self._observe_all(loaded, records))
            for record, (observation, actx) in zip(records, results, strict=True):
                self._apply_observation(loaded, record, observation, actx)

    async def _observe_all(
        self, loaded: LoadedPlugin, records: list[ExecutionRecord]
    ) -> list[tuple[_Observation, AttemptContext]]:
        return await asyncio.gather(*(self._observe(loaded, r) for r in records))

    def _apply_observation(
        self,
        loaded: LoadedPlugin,
        record: ExecutionRecord,
        observation: _Observation,
        actx: AttemptContext,
    ) -> None:
        expected = record.claim or ""
        caching = loaded.config.caching
        now = self.clock()
        if observation.info is not None and observation.info.phase.is_terminal():
            self._complete(record, expected, observation.info, actx)
            return
        if observation.info is not None:
            info = observation.info
            self.update(
                record.id,
                expected,
                lambda r: (machine.observed(r, now, info, caching.resync_interval), []),
                record,
            )
            return
        message = observation.error

        def failed(r: ExecutionRecord) -> tuple[ExecutionRecord, list[Event]]:
            outcome = machine.get_failed(
                r, now, message, caching.max_system_failures, caching.resync_interval
            )
            if isinstance(outcome, PhaseInfo):
                self.runtime.release_token(r)
                return machine.finish_attempt(r, now, outcome, self.policy)
            return outcome, []

        self.update(record.id, expected, failed, record)

    # -- core plugins: handle, round by round -------------------------------------------------

    def _core_context(
        self, record: ExecutionRecord, actx: AttemptContext, refresh: list[bool]
    ) -> CoreContext:
        return CoreContext(
            task_execution_metadata=actx.context.task_execution_metadata,
            task_reader=actx.context.task_reader,
            input_reader=actx.context.input_reader,
            output_writer=actx.writer,
            data_store=actx.context.data_store,
            secret_manager=actx.context.secret_manager,
            resource_manager=self.runtime.resource_manager,
            plugin_state_reader=PluginState(record.plugin_state_version, record.plugin_state),
            task_refresh_indicator=lambda: refresh.append(True),
        )

    def handle(self, execution_id: str, attempt: int) -> None:
        """Run one round of a core plugin: ``handle``, then persist its state or finish."""
        begun = self._begin(execution_id, "handle", attempt)
        if begun is None:
            return
        expected, record, loaded = begun
        actx = self.runtime.attempt_context(record)
        refresh: list[bool] = []
        ctx = self._core_context(record, actx, refresh)
        caching = loaded.config.caching
        try:
            transition = call_sync(loaded.plugin.handle, ctx)  # type: ignore[union-attr]
            info = transition.info
        except Exception as exc:
            self._apply_observation(loaded, record, _Observation(error=describe(exc)), actx)
            return
        if info.phase.is_terminal():
            self._finalize_core(loaded, ctx)
            self._complete(record, expected, info, actx)
            return
        state = ctx.plugin_state_reader
        assert isinstance(state, PluginState)
        version, value = state.next_round().get()
        now = self.clock()
        next_round = now if refresh else now + caching.resync_interval
        self.update(
            execution_id,
            expected,
            lambda r: (machine.handled(r, now, info, next_round, (version, value)), []),
            record,
        )

    def _finalize_core(self, loaded: LoadedPlugin, ctx: CoreContext) -> None:
        try:
            call_sync(loaded.plugin.finalize, ctx)  # type: ignore[union-attr]
        except Exception as exc:
            log.warning("plugin %s finalize failed: %s", loaded.id, describe(exc))

    # -- delete (abort and timeout) ------------------------------------------------------------

    def _retry_delete(self, record: ExecutionRecord, expected: str, message: str) -> bool:
        """Schedule another Delete after a failure; False once the retries are spent.

        Flyte retries Abort later; so do we, with backoff, a bounded number of times,
        and then finalize anyway so that the token is released.
        """
        failures = record.webapi.sync_failure_count + 1
        log.warning("%s delete failed (%d): %s", record.id, failures, message)
        if failures > self.policy.max_system_retries:
            return False
        now = self.clock()
        delay = self.policy.system_delay(failures)
        self.update(
            record.id, expected, lambda r: (_delete_retry(r, now, delay, failures, message), [])
        )
        return True

    def delete(self, execution_id: str, attempt: int) -> None:
        """Delete the remote resource of an attempt being torn down, then finalize it."""
        begun = self._begin(execution_id, "delete", attempt)
        if begun is None:
            return
        expected, record, loaded = begun
        reason = record.teardown_reason or machine.ABORTED_REASON
        if loaded.is_core:
            # A core plugin tears down with abort, then finalize (propeller's order).
            ctx = self._core_context(record, self.runtime.attempt_context(record), [])
            try:
                call_sync(loaded.plugin.abort, ctx)  # type: ignore[union-attr]
            except Exception as exc:
                if self._retry_delete(record, expected, describe(exc)):
                    return
            self._finalize_core(loaded, ctx)
            self.finish(
                execution_id, expected, lambda r: teardown_phase_info(r, self.clock()), record
            )
            return
        try:
            meta = None
            if record.webapi.resource_meta is not None:
                meta = loaded.config.decode_resource_meta(record.webapi.resource_meta)
            self.runtime.limiter(loaded.id, "write").acquire()
            call_sync(loaded.plugin.delete, DeleteContext(meta, reason))  # type: ignore[union-attr]
        except Exception as exc:
            if self._retry_delete(record, expected, describe(exc)):
                return
        # Read the teardown kind from the latest record: an abort may have come in during a
        # timeout's Delete, and then the attempt must end ABORTED, not be retried.
        self.finish(execution_id, expected, lambda r: teardown_phase_info(r, self.clock()), record)


def _delete_retry(
    record: ExecutionRecord, now: datetime, delay: timedelta, failures: int, message: str
) -> ExecutionRecord:
    """Release the delete claim and try again after ``delay``."""
    return replace(
        record,
        claim=None,
        claimed_at=None,
        pending=True,
        not_before=now + delay,
        webapi=replace(record.webapi, sync_failure_count=failures, error_message=message),
        updated_at=now,
    )


def teardown_phase_info(record: ExecutionRecord, now: datetime) -> PhaseInfo:
    """How a torn-down attempt ends: ABORTED for an abort, a retryable failure for a timeout."""
    if record.teardown == "timeout":
        limit = record.timeout.total_seconds() if record.timeout else 0
        return PhaseInfo.retryable_failure(machine.TIMED_OUT, f"task timed out after {limit:g}s")
    reason = record.teardown_reason or machine.ABORTED_REASON
    return PhaseInfo(Phase.ABORTED, 0, reason, TaskInfo(occurred_at=now))
