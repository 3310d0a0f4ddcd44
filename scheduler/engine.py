"""The scheduler: advances executions through their phases, one tick at a time.

Only the leader (a Redis lease) acts; a standby's tick just tries to take the
lease. Each tick is O(what is due):

1. renew live executions' quota tokens, release orphans, and reap expired ones;
   renew live owners' cache reservations and release finished owners' ones;
2. tear down attempts past their deadline (timeouts);
3. re-publish steps whose claim made no progress for a visibility timeout;
4. wake quota waiters when tokens were freed;
5. advance pending executions: look up the result cache (a hit ends the
   execution; ``cache_serialize`` may wait for another's result), allocate a
   token, then claim and publish the launch step (``create`` or ``do``);
   publish ``delete`` for teardowns;
6. claim due Gets and publish them in batches per plugin and namespace.

Every change is a compare-and-set; a job is published only after its claim is
written (an outbox), so a lost message is found again by step 3.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from plugins.core import AllocationStatus, PhaseInfo, ResourceConstraintsSpec
from plugins.errors import PluginNotFoundError
from plugins.webapi import DEFAULT_RESOURCE_NAMESPACE, call_sync
from scheduler import machine
from scheduler.leader import LeaderLease
from scheduler.machine import RetryPolicy
from scheduler.records import ExecutionRecord, WebAPIPhase
from scheduler.runtime import LoadedPlugin, Runtime
from scheduler.steps import Steps, describe, teardown_phase_info
from scheduler.store import ExecutionStore

__all__ = ["JOB_NAMES", "Engine", "Publisher"]

log = logging.getLogger(__name__)

JOB_NAMES = {step: f"flyte_celery.{step}" for step in ("create", "do", "get", "delete", "handle")}
"""The Celery task name of each step."""


class Publisher(Protocol):
    """Sends a job to a queue (Celery's ``send_task`` in production)."""

    def __call__(self, job: str, args: list[Any], queue: str) -> None:
        """Publish ``job`` with ``args`` to ``queue``."""
        ...


class Engine:
    """The scheduler's logic, driven by :meth:`tick` with the time injected.

    Args:
        runtime: The process's runtime.
        publish: Publishes jobs.
        policy: How failed attempts are retried.
        batch: The most executions handled per index per tick.
    """

    def __init__(
        self,
        runtime: Runtime,
        publish: Publisher,
        policy: RetryPolicy | None = None,
        *,
        batch: int = 500,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.publish = publish
        self.policy = policy or RetryPolicy(
            settings.max_system_retries,
            settings.system_retry_backoff,
            settings.system_retry_backoff_max,
        )
        self.batch = batch
        self.lease = LeaderLease(
            runtime.redis, f"{settings.key_prefix}:leader", settings.leader_lease
        )
        self.steps = Steps(runtime, self.policy)
        self.cache = self.steps.cache
        self._quotas_registered = False
        self._last_renewal: datetime | None = None
        self._last_forget: datetime | None = None
        self._freed: dict[str, int] = {}

    @property
    def store(self) -> ExecutionStore:
        """The execution store."""
        return self.runtime.store

    def tick(self, now: datetime) -> float:
        """Do everything that is due at ``now``; return seconds until the next tick is needed."""
        settings = self.runtime.settings
        if not self.lease.acquire():
            return min(1.0, settings.leader_lease.total_seconds() / 3)
        if not self._quotas_registered:
            self.runtime.register_quotas()
            self._quotas_registered = True
        for name, work in (
            ("tokens", self._tokens),
            ("cache", self.cache.heartbeat),
            ("timeouts", self._timeouts),
            ("reconcile", self._reconcile),
            ("waiters", self._wake_waiters),
            ("pending", self._pending),
            ("gets", self._dispatch_gets),
            ("forget", self._forget),
        ):
            if name != "tokens" and not self.lease.acquire():
                # A long tick outlived the lease and a standby leads now: stop acting.
                log.warning("lost the scheduler lease during a tick")
                return 0.0
            try:
                work(now)
            except Exception:
                # One broken step must not stop the others or the scheduler.
                log.exception("scheduler step %s failed", name)
        return self._next_wait(now)

    def _next_wait(self, now: datetime) -> float:
        wait = self.runtime.settings.tick_interval.total_seconds()
        due = self.store.next_due_at()
        if due is not None:
            wait = min(wait, max(0.0, (due - now).total_seconds()))
        return min(wait, self.runtime.settings.leader_lease.total_seconds() / 3)

    def stop(self) -> None:
        """Give up leadership so a standby takes over at once."""
        self.lease.release()

    # -- helpers -------------------------------------------------------------------------------

    def _records(self, ids: Iterable[str]) -> list[ExecutionRecord]:
        return self.store.get_many(list(ids))

    def _write(self, current: ExecutionRecord, new: ExecutionRecord) -> ExecutionRecord | None:
        return self.store.transition(current, new)

    def _publish_step(self, record: ExecutionRecord) -> None:
        claimed = machine.claim_of(record)
        if claimed is None:
            return
        step, attempt = claimed
        args: list[Any] = [[[record.id, attempt]]] if step == "get" else [record.id, attempt]
        try:
            self.publish(JOB_NAMES[step], args, self.runtime.queue_for(record))
        except Exception:
            # The claim is written: reconciliation publishes it again after the visibility
            # timeout. Failing the attempt here would free a token a launch may still use.
            log.exception("%s: publishing %s failed; reconciliation will retry", record.id, step)

    def _fail(self, record: ExecutionRecord, now: datetime, info: PhaseInfo) -> None:
        self.runtime.release_token(record)
        new, events = machine.finish_attempt(record, now, info, self.policy)
        self.store.transition(record, new, events)

    # -- 1. tokens -----------------------------------------------------------------------------

    def _tokens(self, now: datetime) -> None:
        period = self.runtime.settings.token_lease / 3
        if self._last_renewal is not None and now - self._last_renewal < period:
            return
        self._last_renewal = now
        rm = self.runtime.resource_manager
        for namespace in rm.namespaces():
            holders = rm.holders(namespace)
            owners = self.runtime.token_owners(holders)
            records = {r.id: r for r in self._records({o for o in owners if o})}
            live = []
            for token, owner in zip(holders, owners, strict=True):
                record = records.get(owner or "")
                if (
                    record is not None
                    and not record.finished
                    and record.token_namespace == namespace
                    and self.runtime.task_execution_id(record).generated_name == token
                ):
                    live.append(token)
                else:
                    log.warning("releasing orphaned token %s in %s", token, namespace)
                    self.runtime.release_orphan(namespace, token)
            rm.renew(namespace, *live)
        rm.reap()
        self._freed.clear()  # a periodic full check of the waiters, too

    # -- 2. timeouts ---------------------------------------------------------------------------

    def _timeouts(self, now: datetime) -> None:
        for record in self._records(self.store.timed_out(now, self.batch)):
            limit = record.timeout.total_seconds() if record.timeout else 0
            self._write(
                record,
                machine.request_teardown(record, now, "timeout", f"timed out after {limit:g}s"),
            )

    # -- 3. reconciliation ---------------------------------------------------------------------

    def _reconcile(self, now: datetime) -> None:
        cutoff = now - self.runtime.settings.visibility_timeout
        for record in self._records(self.store.stale_claims(cutoff, self.batch)):
            claimed = machine.claim_of(record)
            if claimed is None or claimed[1] != record.attempt:
                self._write(
                    record,
                    replace(record, claim=None, claimed_at=None, pending=True, updated_at=now),
                )
                continue
            written = self._write(record, replace(record, claimed_at=now))
            if written is not None:
                log.warning("%s: %s made no progress; publishing it again", record.id, record.claim)
                self._publish_step(written)

    # -- 4. quota waiters ----------------------------------------------------------------------

    def _wake_waiters(self, now: datetime) -> None:
        rm = self.runtime.resource_manager
        for namespace in rm.namespaces():
            metrics = rm.metrics(namespace)
            freed = metrics.releases + metrics.reaps
            if self._freed.get(namespace) == freed:
                continue  # nothing was freed since the last look: no busy polling
            self._freed[namespace] = freed
            room = metrics.quota - metrics.held
            if room <= 0:
                continue
            # A few more than the free slots: some waiters may be held back by a cap.
            for record in self._records(self.store.waiting(namespace, room * 4)):
                self._write(
                    record, replace(record, waiting_namespace=None, pending=True, updated_at=now)
                )

    # -- 5. pending executions -----------------------------------------------------------------

    def _pending(self, now: datetime) -> None:
        for record in self._records(self.store.pending(now, self.batch)):
            try:
                self._advance(record, now)
            except Exception as exc:
                log.exception("%s: advancing failed", record.id)
                current = self.store.get(record.id)
                if current is not None and current.version == record.version:
                    # Nothing was written yet, so failing the attempt frees nothing in use.
                    info = PhaseInfo.system_retryable_failure("SchedulerError", describe(exc))
                    self._fail(current, now, info)

    def _advance(self, record: ExecutionRecord, now: datetime) -> None:
        if record.claim is not None:
            claimed = machine.claim_of(record)
            if record.teardown is not None and claimed is not None and claimed[0] == "do":
                # A sync call cannot be cancelled, and waiting for it would ignore the
                # timeout: end the attempt now. The claim check drops its late result.
                self._fail(record, now, teardown_phase_info(record, now))
                return
            # A step is in flight; its write-back makes the record pending again if needed.
            self._write(record, replace(record, pending=False))
            return
        loaded = self._resolve(record, now)
        if loaded is None:
            return
        if record.teardown is not None:
            self._teardown(record, loaded, now)
        elif record.webapi.phase is WebAPIPhase.NOT_STARTED:
            launch = self.cache.gate(record, now, self._write)
            if launch is not None:
                self._start(launch, loaded, now)
        elif record.webapi.phase is WebAPIPhase.ALLOCATION_TOKEN_ACQUIRED:
            step = loaded.launch_step  # the launch was lost: claim it again
            new = replace(
                record, pending=False, claim=machine.claim(step, record.attempt), claimed_at=now
            )
            written = self._write(record, new)
            if written is not None:
                self._publish_step(written)
        else:
            self._write(
                record, replace(record, pending=False, next_get_at=record.next_get_at or now)
            )

    def _resolve(self, record: ExecutionRecord, now: datetime) -> LoadedPlugin | None:
        try:
            if record.plugin_id:
                return self.runtime.plugin(record.plugin_id)
            return self.runtime.plugin_for(record.task_type)
        except PluginNotFoundError as exc:
            info = PhaseInfo.failure(exc.code, exc.message)
        except Exception as exc:
            info = PhaseInfo.system_failure(getattr(exc, "code", "PluginLoadFailed"), describe(exc))
        self._fail(record, now, info)
        return None

    def _start(self, record: ExecutionRecord, loaded: LoadedPlugin, now: datetime) -> None:
        record = replace(record, plugin_id=loaded.id)
        step = loaded.launch_step
        namespace: str | None = None
        if loaded.config.resource_quotas:
            actx = self.runtime.attempt_context(record)
            requirements: Callable[..., Any] | None = getattr(
                loaded.plugin, "resource_requirements", None
            )
            try:
                if requirements is None:
                    local, spec = DEFAULT_RESOURCE_NAMESPACE, ResourceConstraintsSpec()
                else:
                    local, spec = call_sync(requirements, actx.context)
            except Exception as exc:
                self._fail(
                    record,
                    now,
                    PhaseInfo.system_retryable_failure("ResourceRequirementsFailed", describe(exc)),
                )
                return
            if str(local) not in loaded.config.resource_quotas:
                known = ", ".join(sorted(loaded.config.resource_quotas))
                message = (
                    f"plugin {loaded.id!r} asked for quota namespace {str(local)!r}, "
                    f"which has no quota (known: {known})"
                )
                self._fail(
                    record, now, PhaseInfo.system_failure("UnknownResourceNamespace", message)
                )
                return
            namespace = self.runtime.quota_namespace(loaded.id, str(local))
            token = self.runtime.task_execution_id(record).generated_name
            self.runtime.note_token(token, record.id)
            status = self.runtime.resource_manager.allocate_resource(
                namespace, token, spec, project=record.project, domain=record.domain
            )
            if status is not AllocationStatus.GRANTED:
                self.runtime.forget_token(token)
                # Flyte's NamespaceQuotaExceeded hits an empty Go case; we wait, as for EXHAUSTED.
                self._write(record, machine.denied(record, now, namespace))
                return
        written = self._write(record, machine.allocated(record, now, namespace, step))
        if written is not None:
            self._publish_step(written)

    def _teardown(self, record: ExecutionRecord, loaded: LoadedPlugin, now: datetime) -> None:
        if loaded.is_sync:
            # Nothing remote outlives a sync call: finalize at once.
            self._fail(record, now, teardown_phase_info(record, now))
            return
        new = replace(
            record, pending=False, claim=machine.claim("delete", record.attempt), claimed_at=now
        )
        written = self._write(record, new)
        if written is not None:
            self._publish_step(written)

    # -- 6. gets -------------------------------------------------------------------------------

    def _dispatch_gets(self, now: datetime) -> None:
        groups: dict[str, list[ExecutionRecord]] = {}
        for record in self._records(self.store.due(now, self.batch)):
            if record.claim is not None or record.webapi.phase is not WebAPIPhase.RESOURCES_CREATED:
                self._write(record, replace(record, next_get_at=None))
                continue
            # A core plugin's next round is a handle job; a web-API plugin's is a (batched) Get.
            core = self._is_core(record)
            step = "handle" if core else "get"
            written = self._write(
                record,
                replace(
                    record,
                    next_get_at=None,
                    claim=machine.claim(step, record.attempt),
                    claimed_at=now,
                ),
            )
            if written is None:
                continue
            if core:
                self._publish_step(written)
            else:
                groups.setdefault(self.runtime.queue_for(written), []).append(written)
        size = self.runtime.settings.get_batch_size
        for queue, records in groups.items():
            for start in range(0, len(records), size):
                chunk = records[start : start + size]
                self.publish(JOB_NAMES["get"], [[[r.id, r.attempt] for r in chunk]], queue)

    def _is_core(self, record: ExecutionRecord) -> bool:
        try:
            return self.runtime.plugin(record.plugin_id).is_core
        except Exception:
            return False  # the Get job reports the load failure on the record

    # -- 7. housekeeping -----------------------------------------------------------------------

    def _forget(self, now: datetime) -> None:
        if self._last_forget is not None and now - self._last_forget < timedelta(minutes=1):
            return
        self._last_forget = now
        self.store.forget(now)
