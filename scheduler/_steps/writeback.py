"""The machinery every worker step shares: the claim check and the CAS write-back.

Every job names an execution and an attempt. The worker acts only if the record
still carries the job's :class:`~scheduler._model.Claim`; a redelivered or
duplicate message finds the claim gone and does nothing. A result is applied
with :meth:`WriteBack.update`, a compare-and-set loop that re-reads and re-applies
if another writer (a signal, an abort request) got in between, as long as the
claim is still there. Plugin exceptions never escape a step: they become the
failure :func:`~scheduler._model.failure_info` prescribes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from plugins.core import Phase, PhaseInfo
from plugins.io import RemoteFileOutputWriter
from plugins.io.validation import (
    declares_outputs,
    phase_info_for_output_error,
    validate_output,
)
from scheduler._model import (
    CacheStatus,
    Claim,
    Event,
    ExecutionRecord,
    FailureSite,
    bookkeeping,
    failure_info,
)
from scheduler._runtime import AttemptContext, LoadedPlugin, Runtime
from scheduler._steps.populate import populate
from scheduler.metrics import note_failure

__all__ = ["Apply", "WriteBack", "running_job"]

log = logging.getLogger(__name__)

Apply = Callable[[ExecutionRecord], tuple[ExecutionRecord, list[Event]] | None]
"""Computes the new record and extra events from the current one (``None``: no change)."""


_JOB: ContextVar[str | None] = ContextVar("flyte_celery_job", default=None)


@contextmanager
def running_job(job_id: str | None) -> Iterator[None]:
    """Name the Celery job ``job_id`` on the events that results written inside log.

    The console then links each change to the job that made it in Flower.
    """
    token = _JOB.set(job_id)
    try:
        yield
    finally:
        _JOB.reset(token)


def _note_failed(old: ExecutionRecord, new: ExecutionRecord) -> None:
    """Note an attempt this write ended in failure: the job shows as failed (Flower)."""
    if new.phase.is_failure():
        note_failure(f"{new.id}: {new.phase.name}: {new.reason}")
    elif new.attempt > old.attempt:
        note_failure(f"{new.id}: attempt {old.attempt} failed, attempt {new.attempt} is next")


class WriteBack:
    """Claim checks and compare-and-set writes of worker steps.

    Args:
        runtime: The process's runtime (its clock and retry policy included).
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def update(
        self,
        execution_id: str,
        expected_claim: Claim | None,
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

        Raises:
            ContentionError: The write kept losing to other writers.
        """

        def change(current: ExecutionRecord) -> tuple[ExecutionRecord, list[Event]] | None:
            if current.finished:
                return None
            if expected_claim is not None and current.claim != expected_claim:
                return None
            return apply(current)

        updated = self.runtime.store.update(execution_id, change, known=known, job=_JOB.get())
        if updated is None:
            return None
        _note_failed(updated.before, updated.after)
        self.wake_if_needed([updated.after])
        return updated.after

    def update_many(self, items: Sequence[tuple[ExecutionRecord, Claim, Apply]]) -> None:
        """:meth:`update` for a batch: one round trip of compare-and-sets.

        Each change is computed from the record as it was read, while it carries its
        claim; one that lost to another writer is re-read and applied again alone.
        """
        pairs: list[tuple[ExecutionRecord, ExecutionRecord]] = []
        events: list[list[Event]] = []
        tried: list[tuple[ExecutionRecord, Claim, Apply]] = []
        for record, claim, apply in items:
            if record.finished or record.claim != claim:
                continue
            change = apply(record)
            if change is None:
                continue
            pairs.append((record, change[0]))
            events.append(change[1])
            tried.append((record, claim, apply))
        job = _JOB.get()
        written = self.runtime.store.transition_many(pairs, events=events, job=job) if pairs else []
        for (old, _), new in zip(pairs, written, strict=True):
            if new is not None:
                _note_failed(old, new)
        self.wake_if_needed([w for w in written if w is not None])
        errors: list[Exception] = []
        for (record, claim, apply), done in zip(tried, written, strict=True):
            if done is None:
                try:
                    self.update(record.id, claim, apply)
                except Exception as exc:
                    errors.append(exc)  # the others are still written
        if errors:
            raise errors[0]

    def wake_if_needed(self, written: Sequence[ExecutionRecord]) -> None:
        """Wake the scheduler for work it should do now, with no polling delay.

        That is a record written pending, finished, or with a Get due already.
        """
        now = self.runtime.clock()
        needed = [
            record.id for record in written
            if record.pending or record.finished
            or (record.next_get_at is not None and record.next_get_at <= now)
        ]  # fmt: skip
        if needed:
            self.runtime.wake.notify(*needed)  # each of their shards' scheduler

    def claimed(self, execution_id: str, claim: Claim) -> ExecutionRecord | None:
        """The record, if it still carries ``claim`` and is not finished."""
        record = self.runtime.store.get(execution_id)
        if record is None or record.finished or record.claim != claim:
            log.info("%s %s: claim gone, nothing to do", execution_id, claim)
            return None
        return record

    def claimed_many(self, items: Sequence[tuple[str, Claim]]) -> list[ExecutionRecord]:
        """The records that still carry their claim and are not finished, in order.

        A batch of Gets reads its records in one round trip.
        """
        found = {r.id: r for r in self.runtime.store.get_many([i for i, _ in items])}
        records = []
        for execution_id, claim in items:
            record = found.get(execution_id)
            if record is None or record.finished or record.claim != claim:
                log.info("%s %s: claim gone, nothing to do", execution_id, claim)
                continue
            records.append(record)
        return records

    def finish(
        self,
        execution_id: str,
        expected_claim: Claim | None,
        info: PhaseInfo | Callable[[ExecutionRecord], PhaseInfo],
        known: ExecutionRecord | None = None,
        before: Sequence[Event] = (),
        *,
        cache_status: CacheStatus | None = None,
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
        apply = self.finishing(info, before, cache_status=cache_status)
        return self.update(execution_id, expected_claim, apply, known)

    def finishing(
        self,
        info: PhaseInfo | Callable[[ExecutionRecord], PhaseInfo],
        before: Sequence[Event] = (),
        *,
        cache_status: CacheStatus | None = None,
    ) -> Apply:
        """The change :meth:`finish` applies, for :meth:`update_many`."""

        def apply(record: ExecutionRecord) -> tuple[ExecutionRecord, list[Event]]:
            final = info(record) if callable(info) else info
            new, events = self.runtime.attempts.end(record, None, final)
            return bookkeeping.cached(new, cache_status), [*before, *events]

        return apply

    def complete(
        self,
        record: ExecutionRecord,
        expected: Claim,
        info: PhaseInfo,
        actx: AttemptContext,
        before: Sequence[Event] = (),
    ) -> ExecutionRecord | None:
        """A terminal PhaseInfo from the plugin: validate and commit outputs on success."""
        return self.update(record.id, expected, self.completing(record, info, actx, before), record)

    def completing(
        self,
        record: ExecutionRecord,
        info: PhaseInfo,
        actx: AttemptContext,
        before: Sequence[Event] = (),
    ) -> Apply:
        """What :meth:`complete` applies (outputs validated and committed first)."""
        if info.phase is Phase.SUCCESS:
            info = self._committed(info, actx)
        status = None
        if info.phase is Phase.SUCCESS:
            # Populate before SUCCESS is written: a waiter that sees the owner done finds
            # the entry. A write that then loses a race leaves a valid entry behind.
            status = populate(self.runtime, record, self.runtime.clock())
        return self.finishing(info, before, cache_status=status)

    def _committed(self, info: PhaseInfo, actx: AttemptContext) -> PhaseInfo:
        """SUCCESS once the outputs are validated and committed; else the failure found."""
        try:
            template = actx.context.task_reader.read()
            committer = RemoteFileOutputWriter(self.runtime.data_store, actx.paths)
            reader = actx.writer.reader
            declared = declares_outputs(template)
            outputs = template.interface.outputs if declared else None
            err = validate_output(
                reader, outputs_declared=declared, committer=committer, interface=outputs
            )
            if err is None and not declared and reader is not None and not reader.is_file():
                # Flyte drops outputs the interface does not declare; we keep them.
                literals, _ = reader.read()
                if literals is not None:
                    committer.put(reader)
        except Exception as exc:
            return failure_info(exc, FailureSite.OUTPUT_COMMIT)
        return info if err is None else phase_info_for_output_error(err, info.info)

    def begin(self, execution_id: str, claim: Claim) -> tuple[ExecutionRecord, LoadedPlugin] | None:
        """Check the job's claim and load its plugin: (record, plugin), or None to stop."""
        record = self.claimed(execution_id, claim)
        if record is None:
            return None
        loaded = self.plugin(record)
        if loaded is None:
            return None
        return record, loaded

    def plugin(self, record: ExecutionRecord) -> LoadedPlugin | None:
        """The plugin of a claimed record; if it cannot load, the attempt fails with the reason.

        The failure is written only while the record still carries the claim it was read with.
        """
        try:
            return self.runtime.plugins.get(record.plugin_id)
        except Exception as exc:
            if record.claim is not None:
                info = failure_info(exc, FailureSite.PLUGIN_LOAD)
                self.finish(record.id, record.claim, info)
            return None
