"""The tick's housekeeping: tokens, timeouts, reconciliation, quota waiters, retention.

- Tokens: renew live executions' quota tokens, release orphans (a token whose
  execution is gone, finished or on another attempt) and reap expired ones.
- Timeouts: ask for the teardown of attempts past their deadline.
- Reconciliation: a claimed step with no progress for a visibility timeout is
  published again (Celery with Redis is at-least-once; messages are hints).
- Waiters: when tokens were freed, make quota waiters pending again.
- Retention: drop long-finished executions from the listing indexes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from scheduler._backend import run_member
from scheduler._engine.outbox import Outbox
from scheduler._model import Step, TeardownKind, bookkeeping, machine

__all__ = ["Upkeep"]

log = logging.getLogger(__name__)

_FORGET_EVERY = timedelta(minutes=1)


class Upkeep:
    """Housekeeping steps of the tick; each takes ``now``.

    Args:
        outbox: Reads, writes and publishes for the tick.
    """

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.runtime = outbox.runtime
        self._last_renewal: datetime | None = None
        self._last_forget: datetime | None = None
        self._freed: dict[str, int] = {}
        self._after_outage = False
        self._reap_after: datetime | None = None
        self._sweep_before: datetime | None = None

    def tokens(self, now: datetime) -> None:
        """Renew live tokens, release orphans, reap expired ones (every third of a lease)."""
        period = self.runtime.settings.token_lease / 3
        if self._last_renewal is not None and now - self._last_renewal < period:
            return
        self._last_renewal = now
        quotas, ledger = self.runtime.quotas, self.runtime.tokens
        for namespace in quotas.namespaces():
            holders = quotas.holders(namespace)
            owners = ledger.owners(holders)
            records = {r.id: r for r in self.runtime.store.get_many(list({o for o in owners if o}))}
            live = []
            for token, owner in zip(holders, owners, strict=True):
                record = records.get(owner or "")
                if (
                    record is not None
                    and not record.finished
                    and record.token_namespace == namespace
                    and record.token == token
                ):
                    # Any shard's scheduler renews a live token: one whose own shard has
                    # no leader for a while (a takeover, a failover) keeps its slot.
                    live.append(token)
                elif self._mine(owner):
                    # Only its own shard's scheduler releases one: another's may hold a
                    # token it just took and is about to note on its record. Shard 0's
                    # also releases tokens nobody noted, which are orphans.
                    log.warning("releasing orphaned token %s in %s", token, namespace)
                    ledger.release(namespace, token)
            quotas.renew(namespace, *live)
        quotas.reap()
        self._freed.clear()  # a periodic full check of the waiters, too

    def _mine(self, owner: str | None) -> bool:
        """Whether a token of ``owner`` (``None``: no note) is this shard's to look after."""
        shard = 0 if owner is None else self.runtime.shards.shard(owner)
        return shard == self.runtime.shard

    def timeouts(self, now: datetime) -> None:
        """Ask for the teardown of every attempt whose deadline passed."""
        store = self.runtime.store
        for record in store.get_many(store.indexes.timed_out(now, self.outbox.batch)):
            limit = record.timeout.total_seconds() if record.timeout else 0
            teardown = machine.request_teardown(
                record, now, TeardownKind.TIMEOUT, f"timed out after {limit:g}s"
            )
            self.runtime.store.transition(record, teardown)

    def reconcile(self, now: datetime) -> None:
        """Publish again every claimed step whose worker died, or that never started.

        A step in progress holds a run lease its worker renews: once it lapses, the worker
        is gone and the step is published again at once. A step with no run lease and no
        progress for a visibility timeout was never started (a lost message); after an
        outage, a run lease on, so was every step claimed before it ended that no worker
        holds.
        """
        runs, store = self.runtime.runs, self.runtime.store
        may_reap = self._may_reap(now)
        reaped = runs.reap(now, self.outbox.batch) if may_reap else []
        current = {r.id: r for r in self.runtime.store.get_many(list({i for i, _ in reaped}))}
        for execution_id, lapsed in reaped:
            found = current.get(execution_id)
            if found is None or found.finished or found.claim != lapsed:
                continue  # the step finished (or moved on) before its lease lapsed
            if found.teardown is not None and lapsed.step in (Step.CREATE, Step.DO):
                # Its worker died (or Celery killed the hung call) and the attempt is being
                # torn down: running the call again would only start what is to be stopped.
                log.warning("%s: %s died during teardown; ending the attempt", found.id, lapsed)
                self.runtime.attempts.write_end(found, now, machine.teardown_phase_info(found, now))
                continue
            written = self.runtime.store.transition(found, bookkeeping.republished(found, now))
            if written is not None:
                log.warning("%s: %s stopped renewing its run lease; publishing it again",
                            found.id, lapsed)  # fmt: skip
                self.outbox.publish_claimed(written)
        cutoff = now - self.runtime.settings.visibility_timeout
        sweep_before = self._sweep_before if may_reap else None
        if sweep_before is not None:
            # After an outage: a job published or taken then may be lost (a publish or a
            # worker's bookkeeping refused): every claim from before Redis came back that
            # no worker holds now is published again, not a visibility timeout later.
            cutoff = max(cutoff, sweep_before)
        stale = store.indexes.stale_claims(cutoff, self.outbox.batch)
        if sweep_before is not None and len(stale) < self.outbox.batch:
            self._sweep_before = None  # this pass covers them all
        for record in self.runtime.store.get_many(stale):
            claim = record.claim
            if claim is None or claim.attempt != record.attempt:
                self.runtime.store.transition(record, bookkeeping.unclaimed(record, now))
                continue
            expiry = runs.expiry(run_member(record.id, claim))
            if expiry is not None and (expiry > now or not may_reap):
                # Still running, however long it takes: look again a visibility timeout on.
                self.runtime.store.transition(record, bookkeeping.republished(record, now))
                continue
            if record.teardown is not None and claim.step in (Step.CREATE, Step.DO):
                # Never started, and the attempt is being torn down: nothing to run.
                self.runtime.attempts.write_end(
                    record, now, machine.teardown_phase_info(record, now)
                )
                continue
            written = self.runtime.store.transition(record, bookkeeping.republished(record, now))
            if written is not None:
                log.warning("%s: %s made no progress; publishing it again", record.id, claim)
                self.outbox.publish_claimed(written)

    def redis_failed(self) -> None:
        """Note that a tick failed on Redis (away, stalled past its timeout, refusing)."""
        self._after_outage = True

    def _may_reap(self, now: datetime) -> bool:
        """Whether a lapsed run lease means a dead worker now.

        Not within a lease after a tick failed on Redis: the workers' renewals failed for
        the same reason, and they renew, or write their answers back, as soon as Redis
        answers again. Publishing their steps again at once would run them twice (a
        Create sent twice).
        """
        if self._after_outage:
            self._after_outage = False
            lease = self.runtime.settings.run_lease
            self._reap_after = now + lease
            self._sweep_before = now
            log.info("Redis is back: lapsed run leases wait %.0fs for their workers",
                     lease.total_seconds())  # fmt: skip
        return self._reap_after is None or now >= self._reap_after

    def wake_waiters(self, now: datetime) -> None:
        """Make quota waiters pending again where tokens were freed since the last look."""
        quotas, store = self.runtime.quotas, self.runtime.store
        for namespace in quotas.namespaces():
            metrics = quotas.metrics(namespace)
            freed = metrics.releases + metrics.reaps
            if self._freed.get(namespace) == freed:
                continue  # nothing was freed since the last look: no busy polling
            self._freed[namespace] = freed
            room = metrics.quota - metrics.held
            if room <= 0:
                continue
            # A few more than the free slots: some waiters may be held back by a cap.
            for record in store.get_many(store.indexes.waiting(namespace, room * 4)):
                self.runtime.store.transition(record, bookkeeping.woken(record, now))

    def forget(self, now: datetime) -> None:
        """Drop executions finished before the retention from the listing (once a minute)."""
        if self._last_forget is not None and now - self._last_forget < _FORGET_EVERY:
            return
        self._last_forget = now
        self.runtime.store.indexes.forget(now)
