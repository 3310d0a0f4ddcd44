"""The Delete step: tear down an attempt being aborted or timed out, then finalize it.

An AsyncPlugin gets ``delete`` with its handle (``None`` when Create never
succeeded); a core plugin gets ``abort`` then ``finalize`` (propeller's order).
Flyte retries a failed Abort later; so do we, with backoff, a bounded number of
times, and then finalize anyway so that the token is released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from plugins.core import PhaseInfo
from plugins.webapi import DeleteContext
from scheduler._model import Claim, ExecutionRecord, LimiterKind, Step, describe, machine
from scheduler._runtime import CallSite, PluginKind
from scheduler._steps.core import CoreSteps
from scheduler._steps.durable import durably
from scheduler._steps.writeback import WriteBack

__all__ = ["Teardown"]

log = logging.getLogger(__name__)


class Teardown:
    """Runs Delete jobs.

    Args:
        wb: The shared claim checks and write-back.
        core: The core plugins' steps (for ``abort`` and ``finalize``).
    """

    def __init__(self, wb: WriteBack, core: CoreSteps) -> None:
        self.wb = wb
        self.core = core
        self.runtime = wb.runtime

    def _retry(self, record: ExecutionRecord, expected: Claim, message: str) -> bool:
        """Schedule another Delete after a failure; False once the retries are spent."""
        failures = record.webapi.sync_failure_count + 1
        log.warning("%s delete failed (%d): %s", record.id, failures, message)
        policy = self.runtime.policy
        if failures > policy.max_system_retries:
            return False
        now = self.runtime.clock()
        delay = policy.system_delay(failures)
        self.wb.update(
            record.id,
            expected,
            lambda r: (machine.delete_retry(r, now, delay, failures, message), []),
        )
        return True

    def _ended(self, cleanup_error: str) -> Callable[[ExecutionRecord], PhaseInfo]:
        def ended(record: ExecutionRecord) -> PhaseInfo:
            # Read the teardown kind from the latest record: an abort may have come in during
            # a timeout's Delete, and then the attempt must end ABORTED, not be retried.
            info = machine.teardown_phase_info(record, self.runtime.clock())
            if not cleanup_error:
                return info
            # The remote job may still run: say so on the execution and in its events.
            return machine.cleanup_failed(info, cleanup_error)

        return ended

    def delete(self, execution_id: str, attempt: int) -> None:
        """Delete the remote resource of an attempt being torn down, then finalize it."""
        expected = Claim(Step.DELETE, attempt)
        begun = self.wb.begin(execution_id, expected)
        if begun is None:
            return
        record, loaded = begun
        reason = record.teardown_reason or machine.ABORTED_REASON
        if loaded.kind is PluginKind.CORE:
            ctx = self.core.context(record, self.runtime.contexts.attempt(record), [])
            failure = ""
            try:
                self.core.abort(loaded, ctx)
            except Exception as exc:
                if self._retry(record, expected, describe(exc)):
                    return
                failure = self._gave_up(record, describe(exc))
            self.core.finalize(loaded, ctx)
            self.wb.finish(execution_id, expected, self._ended(failure), record)
            return
        failure = ""
        try:
            meta = None
            if record.webapi.resource_meta is not None:
                meta = loaded.config.decode_resource_meta(record.webapi.resource_meta)
            self.runtime.limiters.get(loaded.id, LimiterKind.WRITE).acquire()
            site = CallSite(loaded.id, loaded.config.caching.workers, "delete", record.id)
            self.runtime.calls.call_here(
                site, loaded.as_async().delete, DeleteContext(meta, reason)
            )
        except Exception as exc:
            if self._retry(record, expected, describe(exc)):
                return
            failure = self._gave_up(record, describe(exc))
        # The Delete was sent: written until Redis takes it, never sent again for a stall.
        finish = partial(self.wb.finish, execution_id, expected, self._ended(failure), record)
        durably(finish, f"{execution_id} Delete")

    @staticmethod
    def _gave_up(record: ExecutionRecord, message: str) -> str:
        attempts = record.webapi.sync_failure_count + 1
        log.error("%s: cleanup failed %d times; giving up: %s", record.id, attempts, message)
        return f"cleanup failed after {attempts} attempts, the remote job may still run: {message}"
