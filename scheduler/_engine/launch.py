"""Pending executions: resolve the plugin, pass the cache gate, take a token, launch.

A pending execution is one the scheduler has work for now. Depending on where
it stands, the scheduler:

- resolves its plugin (an unknown task type or a plugin that fails to load ends it);
- for a teardown, claims Delete (a sync call has nothing remote to delete);
- before the first launch, asks the cache gate, then checks that the plugin's queue
  has room (:mod:`.backpressure`; otherwise it waits in line for that queue),
  allocates a quota token in the namespace the plugin asks for, and claims the launch
  step (Create, Do or Handle); without a token it waits in that namespace;
- after a lost launch, claims the launch step again;
- otherwise plans the next Get.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from plugins.core import AllocationStatus, PhaseInfo, ResourceConstraintsSpec
from plugins.webapi import DEFAULT_RESOURCE_NAMESPACE, call_sync
from scheduler._engine.backpressure import QueueRoom
from scheduler._engine.cache_gate import CacheGate
from scheduler._engine.outbox import UNAVAILABLE, Outbox
from scheduler._model import (
    ExecutionRecord,
    FailureSite,
    Step,
    WebAPIPhase,
    bookkeeping,
    failure_info,
    machine,
)
from scheduler._runtime import LoadedPlugin, PluginKind
from scheduler.metrics import RESOURCE_WAIT

__all__ = ["Launcher"]

log = logging.getLogger(__name__)


class Launcher:
    """Advances pending executions.

    Args:
        outbox: Publishes the jobs of the claims written here.
        gate: The result cache's gate.
        room: How many more launches each queue takes (backpressure).
    """

    def __init__(self, outbox: Outbox, gate: CacheGate, room: QueueRoom) -> None:
        self.outbox = outbox
        self.gate = gate
        self.room = room
        self.runtime = outbox.runtime
        self._creates: list[tuple[ExecutionRecord, ExecutionRecord]] = []
        self._parks: list[tuple[ExecutionRecord, ExecutionRecord]] = []
        self._in_line: dict[str, int] = {}  # per queue: executions waiting for room

    def pending(self, now: datetime) -> None:
        """Advance those waiting for room that fit now, then those pending at ``now``.

        Each up to the batch.
        Their Create claims are written together (one round trip), then published in
        batches per plugin and quota namespace.
        """
        store = self.runtime.store
        self._creates, self._parks = [], []
        self.room.refresh()
        self._in_line = {}
        if self.room.enabled:
            # The plugins' queues, and those noted as lines formed: the line of a plugin
            # since removed is launched too (and fails, naming it), not left waiting.
            noted = store.indexes.queues_waited_for()
            queues = noted.union(self.runtime.queues.all())
            counts = store.indexes.waiting_for_room_counts(sorted(queues))
            self._in_line = {queue: waiting for queue, waiting in counts.items() if waiting}
            empty = [queue for queue in noted if not counts[queue]]
            store.indexes.note_queues_waited_for(empty, add=False)
            for queue, waiting in list(self._in_line.items()):
                # Creates are the smallest share of a job: an upper bound for any launch.
                fits = min(self.room.free(queue, Step.CREATE), waiting, self.outbox.batch)
                if fits > 0:
                    in_line = store.indexes.waiting_for_room(queue, fits)
                    self._advance_all(store.get_many(in_line), now)
        self._advance_all(store.get_many(store.indexes.pending(now, self.outbox.batch)), now)
        parks, self._parks = self._parks, []
        if parks:
            store.indexes.note_queues_waited_for({new.waiting_queue or "" for _, new in parks})
            store.transition_many(parks)
        launches, self._creates = self._creates, []
        groups: dict[str, list[ExecutionRecord]] = {}
        for written in store.transition_many(launches) if launches else []:
            if written is not None:
                groups.setdefault(self.runtime.queues.of_record(written), []).append(written)
        for queue, records in groups.items():
            self.outbox.publish_creates(queue, records)

    def _advance_all(self, records: list[ExecutionRecord], now: datetime) -> None:
        store = self.runtime.store
        for record in records:
            try:
                self._advance(record, now)
            except UNAVAILABLE:
                raise  # not this execution's fault: the tick stops until Redis is back
            except Exception as exc:
                log.exception("%s: advancing failed", record.id)
                current = store.get(record.id)
                if current is not None and current.version == record.version:
                    # Nothing was written yet, so failing the attempt frees nothing in use.
                    self.runtime.attempts.write_end(
                        current, now, failure_info(exc, FailureSite.SCHEDULER)
                    )

    def _admitted(self, record: ExecutionRecord, queue: str, step: Step, now: datetime) -> bool:
        """Whether ``queue`` takes the launch of ``record`` now; if not, it waits in line.

        First come, first served: while others wait for room in the queue, a newcomer
        waits behind them, even if the queue has room this tick.
        """
        in_line = record.waiting_queue == queue
        if (in_line or not self._in_line.get(queue)) and self.room.take(queue, step):
            if in_line:
                self._in_line[queue] = self._in_line.get(queue, 1) - 1
            return True
        if not in_line:  # one already in line keeps its place (no write)
            jobs, limit = self.room.load(queue), self.room.limit
            reason = (
                f"waiting for a worker: queue {queue} holds {jobs} jobs"
                f" (FLYTE_CELERY_QUEUE_BACKLOG is {limit})"
            )
            self._parks.append((record, machine.backlogged(record, now, queue, reason)))
            self._in_line[queue] = self._in_line.get(queue, 0) + 1
        return False

    def _advance(self, record: ExecutionRecord, now: datetime) -> None:
        write = self.runtime.store.transition
        if record.claim is not None:
            if record.teardown is not None and record.claim.step is Step.DO:
                # A sync call cannot be cancelled, and waiting for it would ignore the
                # timeout: end the attempt now. The claim check drops its late result.
                self.runtime.attempts.write_end(
                    record, now, machine.teardown_phase_info(record, now)
                )
                return
            if record.teardown is not None and record.claim.step is Step.GET:
                # The handle is known, so a Get in flight (perhaps hung) need not be waited
                # for: claim Delete now. The claim check drops the Get's late result.
                loaded = self._resolve(record, now)
                if loaded is not None:
                    self._teardown(record, loaded, now)
                return
            # A step is in flight; its write-back makes the record pending again if needed.
            # (A Create in flight is waited for: only its answer names what to delete. Its
            # time limit ends 10 s after the deadline, so the wait is bounded.)
            write(record, bookkeeping.settled(record))
            return
        loaded = self._resolve(record, now)
        if loaded is None:
            return
        if record.teardown is not None:
            self._teardown(record, loaded, now)
        elif record.webapi.phase is WebAPIPhase.NOT_STARTED:
            launch = self.gate.gate(record, now, write)
            if launch is not None:
                self._start(launch, loaded, now)
        elif record.webapi.phase is WebAPIPhase.ALLOCATION_TOKEN_ACQUIRED:
            # The launch was lost: claim it again.
            claimed = machine.claimed(record, now, loaded.launch_step)
            self._claim(record, bookkeeping.settled(claimed))
        else:
            write(record, bookkeeping.watched(record, now))

    def _claim(self, record: ExecutionRecord, new: ExecutionRecord) -> None:
        """Write ``new`` (which carries a claim), then publish the claimed step's job."""
        written = self.runtime.store.transition(record, new)
        if written is not None:
            self.outbox.publish_claimed(written)

    def _resolve(self, record: ExecutionRecord, now: datetime) -> LoadedPlugin | None:
        plugins = self.runtime.plugins
        try:
            if record.plugin_id:
                return plugins.get(record.plugin_id)
            routed = self.runtime.plugins.route(record.task_type)
            if routed is None:
                # A router's first discovery is still running: the record stays pending
                # and is routed at a later tick.
                log.info("%s: waiting for connector discovery to route it", record.id)
            return routed
        except UNAVAILABLE:
            raise  # Redis is away (the served types live there): try again later
        except Exception as exc:
            self.runtime.attempts.write_end(record, now, failure_info(exc, FailureSite.RESOLVE))
            return None

    def _namespace(
        self, record: ExecutionRecord, loaded: LoadedPlugin, now: datetime
    ) -> tuple[str, ResourceConstraintsSpec] | None:
        """The quota namespace and caps the plugin asks for; None after failing the attempt."""
        actx = self.runtime.contexts.attempt(record)
        requirements: Callable[..., Any] | None = getattr(
            loaded.plugin, "resource_requirements", None
        )
        try:
            if requirements is None:
                local, spec = DEFAULT_RESOURCE_NAMESPACE, ResourceConstraintsSpec()
            else:
                local, spec = call_sync(requirements, actx.context)
        except Exception as exc:
            self.runtime.attempts.write_end(
                record, now, failure_info(exc, FailureSite.RESOURCE_REQUIREMENTS)
            )
            return None
        if str(local) not in loaded.config.resource_quotas:
            known = ", ".join(sorted(loaded.config.resource_quotas))
            message = (
                f"plugin {loaded.id!r} asked for quota namespace {str(local)!r}, "
                f"which has no quota (known: {known})"
            )
            self.runtime.attempts.write_end(
                record, now, PhaseInfo.system_failure("UnknownResourceNamespace", message)
            )
            return None
        return self.runtime.plugins.quota_namespace(loaded.id, str(local)), spec

    def _start(self, record: ExecutionRecord, loaded: LoadedPlugin, now: datetime) -> None:
        record = bookkeeping.routed(record, loaded.id)
        namespace: str | None = None
        spec = ResourceConstraintsSpec()
        if loaded.config.resource_quotas:
            wanted = self._namespace(record, loaded, now)
            if wanted is None:
                return
            namespace, spec = wanted
        queue = self.runtime.queues.of(loaded.id, namespace)
        if self.room.enabled and not self._admitted(record, queue, loaded.launch_step, now):
            return
        if namespace is not None:
            token = record.token
            self.runtime.tokens.note(token, record.id)
            status = self.runtime.quotas.allocate_resource(
                namespace, token, spec, project=record.project, domain=record.domain
            )
            if status is not AllocationStatus.GRANTED:
                self.runtime.tokens.forget(token)
                # Flyte's NamespaceQuotaExceeded hits an empty Go case; we wait, as for EXHAUSTED.
                self.runtime.store.transition(record, machine.denied(record, now, namespace))
                return
            waited = now - (record.webapi.allocation_start or now)
            RESOURCE_WAIT.labels(namespace).observe(waited.total_seconds())
        allocated = machine.allocated(record, now, namespace, loaded.launch_step)
        if loaded.launch_step is Step.CREATE:
            self._creates.append((record, allocated))  # written and published with the batch
        else:
            self._claim(record, allocated)

    def _teardown(self, record: ExecutionRecord, loaded: LoadedPlugin, now: datetime) -> None:
        if loaded.kind is PluginKind.SYNC:
            # Nothing remote outlives a sync call: finalize at once.
            self.runtime.attempts.write_end(record, now, machine.teardown_phase_info(record, now))
            return
        claimed = machine.claimed(record, now, Step.DELETE)
        # One aborted before its launch has no plugin yet; Flyte still calls its Delete
        # (with no handle), which must go to that plugin's queue, where workers listen.
        torn_down = bookkeeping.settled(bookkeeping.routed(claimed, loaded.id))
        self._claim(record, torn_down)
