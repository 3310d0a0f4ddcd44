"""A job holds the run leases of the steps it runs, and renews them until it ends.

See :mod:`scheduler._backend.runs`: a second delivery of a job whose step is running
elsewhere finds the lease held and skips the step; a worker that dies stops renewing
and the scheduler publishes the step again once the lease lapses.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from scheduler._backend import run_member
from scheduler._model import Claim
from scheduler._runtime import Runtime
from scheduler._steps.durable import OutageNotice

__all__ = ["Reservations", "RunLeaseHolder"]

log = logging.getLogger(__name__)

_HOST = socket.gethostname()


def _period(runtime: Runtime) -> float:
    """Seconds between renewals: a third of the lease, so two may fail before it lapses."""
    return runtime.settings.run_lease.total_seconds() / 3


_failures = OutageNotice("renew run leases")


def _renew_once(runtime: Runtime, members: list[str], owner: str) -> list[bool] | None:
    """Renew ``owner``'s leases; whether each was still held, or ``None`` if Redis failed."""
    try:
        kept = runtime.runs.renew(members, owner, runtime.clock(), runtime.settings.run_lease)
    except Exception as exc:
        # A Redis blip: the next renewal may succeed before the lease lapses.
        _failures.failed(exc)
        return None
    _failures.succeeded()
    return kept


class RunLeaseHolder:
    """Takes, renews and drops the run leases of the claims one job serves.

    Args:
        runtime: The process's runtime (its clock, its run-lease length).
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @contextmanager
    def hold(
        self, claims: Sequence[tuple[str, Claim]], owner: str | None = None
    ) -> Iterator[set[str]]:
        """Hold the leases of ``claims`` for the body; yields the executions it holds.

        An execution left out is being run by another worker right now: skip it.

        Args:
            claims: The (execution id, claim) pairs the job serves.
            owner: Who reserved the leases as the worker received the job (its id, see
                :class:`Reservations`), if anyone. This run takes them over under a name
                of its own, so another delivery of the same job cannot pass for it.
        """
        runs, clock = self.runtime.runs, self.runtime.clock
        lease = self.runtime.settings.run_lease
        reserved_by = owner or ""
        owner = f"{reserved_by or _HOST}/{os.getpid()}:{uuid.uuid4().hex[:12]}"
        members = [run_member(execution_id, claim) for execution_id, claim in claims]
        taken = runs.start(members, owner, clock(), lease, reserved_by=reserved_by)
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
        while not stop.wait(_period(self.runtime)):
            kept = _renew_once(self.runtime, held, owner)
            for member, ok in zip(held, kept or [], strict=False):
                if not ok:
                    log.warning("%s: run lease lost (lapsed and taken over)", member)


class Reservations:
    """Run leases a worker takes as it receives jobs, before a pool process starts them.

    A worker reserves (prefetches) jobs it has not started yet. If it dies then, nothing
    renews a lease for them, and only the visibility timeout would bring them back. So
    the worker's main process takes each job's leases on receipt, owned by the job's id,
    and renews them until the pool process that runs the job takes them over (under a
    name of its own, so that a redelivery of the same message, same id, cannot pass for
    the run). A worker that dies stops renewing both, and the scheduler publishes the
    steps again once the lease lapses.

    A job the worker lets go of before it runs (revoked, or cancelled after a lost broker
    connection) must not be renewed forever: ``live`` names the jobs the worker still
    holds. A reservation is no longer renewed (its lease lapses, and the scheduler
    publishes it again) once its job was seen there and is gone, or was never seen there
    for a whole run lease (Celery files a job as reserved only after announcing it).

    Args:
        runtime: The worker's runtime.
        live: The owners of the jobs this worker still holds, reserved or running;
            ``None`` renews every reservation until a pool process takes it over.
    """

    def __init__(self, runtime: Runtime, live: Callable[[], Collection[str]] | None = None) -> None:
        self.runtime = runtime
        self._live = live
        self._held: dict[str, tuple[str, datetime]] = {}  # member -> (owner, reserved at)
        self._seen: set[str] = set()  # owners seen among the live jobs
        self._lock = threading.Lock()
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()

    def reserve(self, claims: Sequence[tuple[str, Claim]], owner: str) -> None:
        """Take the leases of a received job's claims, owned by ``owner`` (its id)."""
        members = [run_member(execution_id, claim) for execution_id, claim in claims]
        lease = self.runtime.settings.run_lease
        taken = self.runtime.runs.take(members, owner, self.runtime.clock(), lease)
        now = self.runtime.clock()  # after the round trip, which a slow Redis may stretch
        with self._lock:
            self._held.update((m, (owner, now)) for m, ok in zip(members, taken, strict=True) if ok)
            if self._beat is None:
                self._beat = threading.Thread(target=self._renew, name="reserved", daemon=True)
                self._beat.start()

    def held(self) -> dict[str, str]:
        """The leases renewed here: run member -> owner."""
        with self._lock:
            return {member: owner for member, (owner, _) in self._held.items()}

    def stop(self) -> None:
        """Stop renewing (the worker shuts down; its jobs' leases then lapse)."""
        self._stop.set()

    def renew(self) -> None:
        """One renewal: let go of the jobs the worker no longer holds, renew the rest."""
        now = self.runtime.clock()
        if self._live is not None:
            live = set(self._live())
            unseen_since = now - self.runtime.settings.run_lease
            with self._lock:
                owners = {owner for owner, _ in self._held.values()}
                self._seen = (self._seen & owners) | (live & owners)
                gone = [
                    member
                    for member, (owner, at) in self._held.items()
                    if owner not in live and (owner in self._seen or at <= unseen_since)
                ]
                for member in gone:
                    # Run and done, or let go of unrun: either way not ours to renew.
                    log.debug("%s: its job is no longer held here; not renewed", member)
                    del self._held[member]
        by_owner: dict[str, list[str]] = {}
        for member, owner in self.held().items():
            by_owner.setdefault(owner, []).append(member)
        for owner, members in by_owner.items():
            kept = _renew_once(self.runtime, members, owner)
            if kept is None:
                continue
            with self._lock:
                for member, ok in zip(members, kept, strict=True):
                    if not ok:  # the job ran and dropped it (or it lapsed): done here
                        self._held.pop(member, None)

    def _renew(self) -> None:
        while not self._stop.wait(_period(self.runtime)):
            try:
                self.renew()
            except Exception:
                # The thread must outlive a bad round: the leases it renews cover the jobs.
                log.exception("renewing reserved run leases failed; trying again")
