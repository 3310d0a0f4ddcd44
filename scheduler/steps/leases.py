"""A job holds the run leases of the steps it runs, and renews them until it ends.

See :mod:`scheduler.backend.runs`: a second delivery of a job whose step is running
elsewhere finds the lease held and skips the step; a worker that dies stops renewing
and the scheduler publishes the step again once the lease lapses.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from scheduler.backend.runs import run_member
from scheduler.model import Claim
from scheduler.runtime import Runtime

__all__ = ["RunLeaseHolder"]

log = logging.getLogger(__name__)

_HOST = socket.gethostname()


class RunLeaseHolder:
    """Takes, renews and drops the run leases of the claims one job serves.

    Args:
        runtime: The process's runtime (its clock, its run-lease length).
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @contextmanager
    def hold(self, claims: Sequence[tuple[str, Claim]]) -> Iterator[set[str]]:
        """Hold the leases of ``claims`` for the body; yields the executions it holds.

        An execution left out is being run by another worker right now: skip it.
        """
        runs, clock = self.runtime.runs, self.runtime.clock
        lease = self.runtime.settings.run_lease
        owner = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"  # one per job run
        members = [run_member(execution_id, claim) for execution_id, claim in claims]
        taken = runs.take(members, owner, clock(), lease)
        held = [m for m, ok in zip(members, taken, strict=True) if ok]
        for (execution_id, claim), ok in zip(claims, taken, strict=True):
            if not ok:
                log.info("%s %s: running on another worker; this delivery does nothing",
                         execution_id, claim)  # fmt: skip
        stop = threading.Event()
        beat = threading.Thread(
            target=self._renew, args=(held, owner, stop), name="run-lease", daemon=True
        )
        if held:
            beat.start()
        try:
            yield {execution_id for (execution_id, _), ok in zip(claims, taken, strict=True) if ok}
        finally:
            stop.set()
            if held:
                beat.join()
                try:
                    runs.drop(held, owner, clock())
                except Exception as exc:
                    # The step is done either way; a lease left behind just lapses.
                    log.warning("could not drop run leases: %s", exc)

    def _renew(self, held: list[str], owner: str, stop: threading.Event) -> None:
        lease = self.runtime.settings.run_lease
        while not stop.wait(lease.total_seconds() / 3):
            try:
                kept = self.runtime.runs.renew(held, owner, self.runtime.clock(), lease)
            except Exception as exc:
                # A Redis blip: the next renewal may succeed before the lease lapses.
                log.warning("could not renew run leases: %s", exc)
                continue
            for member, ok in zip(held, kept, strict=True):
                if not ok:
                    log.warning("%s: run lease lost (lapsed and taken over)", member)
