"""The worker steps of web-API plugins: batched Creates (with their first Gets), Do, Gets.

Every plugin call runs under the plugin's global rate limiter (the write limiter
for Create and Do, the read limiter for Get), asked once per batch. A batch of
Creates, or of Gets, of one plugin runs concurrently on the process's event loop,
``async def`` methods on the loop and plain ones on its thread pool, at most
``caching.workers`` of one plugin at once (:class:`~scheduler._runtime.PluginCalls`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from plugins.core import PhaseInfo
from plugins.webapi import GetContext, StatusContext
from scheduler._model import (
    Claim,
    Event,
    ExecutionRecord,
    FailureSite,
    LimiterKind,
    Step,
    describe,
    failure_info,
    machine,
)
from scheduler._runtime import AttemptContext, CallSite, LoadedPlugin
from scheduler._steps.durable import durably
from scheduler._steps.observe import Observation, apply_observations, failed_get
from scheduler._steps.paced import paced
from scheduler._steps.writeback import Apply, WriteBack
from scheduler.metrics import plugin_call

__all__ = ["WebAPISteps"]

log = logging.getLogger(__name__)

_WATCH_PERIOD = 1.0  # seconds between looks at the record while a sync call runs


@dataclass(frozen=True)
class _Created:
    """What one Create came to: the handle and its first answer, or the error."""

    meta: Any = None
    meta_json: str = ""
    resource: Any = None
    get_error: Exception | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the Create itself succeeded."""
        return self.error is None


_Got = tuple[Any, Any, Exception | None]
"""What one Get came to: (resource meta, resource, None), or (None, None, the error)."""


class WebAPISteps:
    """Create, Do and Get for AsyncPlugins and SyncPlugins.

    Args:
        wb: The shared claim checks and write-back.
    """

    def __init__(self, wb: WriteBack) -> None:
        self.wb = wb
        self.runtime = wb.runtime

    # -- create and do -------------------------------------------------------------------------

    def create(self, items: Sequence[tuple[str, int]]) -> None:
        """Create the remote resources of a batch of ``(execution id, attempt)``.

        The records are read in one round trip and checked against their claims; the
        Creates of one plugin (with their first Gets) run concurrently on one event loop,
        started as the write limiter grants them; each result is then written back.
        """
        for loaded, records in self._claimed_by_plugin(Step.CREATE, items):
            actxs = [self.runtime.contexts.attempt(record) for record in records]
            outcomes: list[_Created | None] = [None] * len(records)
            began: set[int] = set()
            try:
                work = partial(self._create_all, loaded, actxs, outcomes, began)
                outcomes = self.runtime.calls.run(work)
            except Exception as exc:
                # Redis away or refusing (a limiter's call), or Celery's soft time limit,
                # raised while waiting: the Creates that answered keep their answer, and are
                # written back below, never sent again; the calls still going (a time limit
                # cut them off) fail; the ones not started yet keep their claims, for
                # reconciliation to publish again.
                for index, outcome in enumerate(outcomes):
                    if outcome is None and index in began:
                        outcomes[index] = _Created(error=exc)
                    elif outcome is not None and outcome.ok and outcome.resource is None:
                        # The Create answered; its first Get was cut off (or never ran).
                        outcomes[index] = replace(outcome, get_error=outcome.get_error or exc)
            changes = []
            for record, actx, outcome in zip(records, actxs, outcomes, strict=True):
                if outcome is None:
                    continue
                try:
                    apply = self._created(record, loaded, actx, outcome)
                except Exception as exc:
                    # One result that cannot be read must not lose the batch's others.
                    log.exception("%s: writing back its Create failed", record.id)
                    apply = self.wb.finishing(failure_info(exc, FailureSite.SCHEDULER))
                changes.append((record, Claim(Step.CREATE, record.attempt), apply))
            # One round trip for the batch, tried again until Redis takes it: a handle
            # dropped here would send its Create again.
            durably(partial(self.wb.update_many, changes), f"{len(changes)} Creates")

    async def _create_all(
        self,
        loaded: LoadedPlugin,
        actxs: list[AttemptContext],
        outcomes: list[_Created | None],
        began: set[int],
    ) -> list[_Created | None]:
        """The batch's Creates, then the first Gets of those that need one, into ``outcomes``.

        Each phase asks its limiter (write, then read) once for the whole batch; ``began``
        collects the Creates called so far.
        """

        async def create(index: int) -> None:
            began.add(index)
            outcomes[index] = await self._create_one(loaded, actxs[index])

        limiter = self.runtime.limiters.get(loaded.id, LimiterKind.WRITE)
        await paced(limiter, [partial(create, i) for i in range(len(actxs))])

        async def first_get(index: int) -> None:
            outcome = outcomes[index]
            assert outcome is not None
            try:
                get, context = loaded.as_async().get, GetContext(outcome.meta)
                resource = await self._call(loaded, "get", actxs[index].execution_id, get, context)
                outcomes[index] = replace(outcome, resource=resource)
            except Exception as exc:
                outcomes[index] = replace(outcome, get_error=exc)

        # The first Get comes at once (Flyte's sync-on-create), in this same job: one
        # message and one write fewer than a separate Get job.
        waiting = [
            i for i, o in enumerate(outcomes) if o is not None and o.ok and o.resource is None
        ]
        limiter = self.runtime.limiters.get(loaded.id, LimiterKind.READ)
        await paced(limiter, [partial(first_get, i) for i in waiting])
        return outcomes

    async def _create_one(self, loaded: LoadedPlugin, actx: AttemptContext) -> _Created:
        try:
            # as_async() inside the try: a plugin that changed kind between deploys fails the
            # attempt instead of escaping the job and leaving its claim to be re-published.
            create, subject = loaded.as_async().create, actx.execution_id
            meta, resource = await self._call(loaded, "create", subject, create, actx.context)
            return _Created(meta, loaded.config.encode_resource_meta(meta), resource)
        except Exception as exc:
            return _Created(error=exc)

    def _created(
        self, record: ExecutionRecord, loaded: LoadedPlugin, actx: AttemptContext, outcome: _Created
    ) -> Apply:
        """The change one Create (and its first Get or Status) comes to."""
        if outcome.error is not None:
            # Also Celery's soft time limit: a Create still hanging 10 s after the attempt's
            # deadline is cut off, and the attempt ends as its teardown says (TimedOut).
            log.info("%s create failed: %s", record.id, describe(outcome.error))
            failure = failure_info(outcome.error, FailureSite.PLUGIN_CALL)
            return self.wb.finishing(self._unless_torn_down(failure))
        meta_json = outcome.meta_json
        if outcome.get_error is not None:
            observation = Observation(error=describe(outcome.get_error))
        else:
            # Status may finish the attempt now.
            observation = self._status(loaded, actx, outcome.meta, outcome.resource)
        now = self.runtime.clock()
        launched = machine.created(record, now, meta_json).to_event()
        if observation.info is not None and observation.info.phase.is_terminal():
            return self.wb.completing(record, observation.info, actx, before=[launched])
        caching = loaded.config.caching

        def apply(r: ExecutionRecord) -> tuple[ExecutionRecord, list[Event]]:
            created = machine.created(r, now, meta_json)
            if observation.info is not None:
                observed = machine.observed(created, now, observation.info, caching)
                return observed, [launched] if observed.event_key() != created.event_key() else []
            new, events, ended = failed_get(self.runtime, created, now, observation.error, caching)
            # The launch is logged only with the attempt's end: a Get still within its
            # budget leaves it to the next observation (as the first Get's own event).
            return new, [launched, *events] if ended else []

        return apply

    def _unless_torn_down(self, failure: PhaseInfo) -> Callable[[ExecutionRecord], PhaseInfo]:
        def info(record: ExecutionRecord) -> PhaseInfo:
            if record.teardown is None:
                return failure
            return machine.teardown_phase_info(record, self.runtime.clock())

        return info

    def do(self, execution_id: str, attempt: int) -> None:
        """Run a sync plugin's one call."""
        expected = Claim(Step.DO, attempt)
        begun = self.wb.begin(execution_id, expected)
        if begun is None:
            return
        record, loaded = begun
        actx = self.runtime.contexts.attempt(record)
        self.runtime.limiters.get(loaded.id, LimiterKind.WRITE).acquire()
        context = replace(actx.context, cancelled=threading.Event())
        with self._watching(execution_id, expected, context.cancelled):
            try:
                site = CallSite(loaded.id, loaded.config.caching.workers, "do", execution_id)
                info = self.runtime.calls.call_here(site, loaded.as_sync().do, context)
            except Exception as exc:
                log.info("%s do failed: %s", execution_id, describe(exc))
                info = failure_info(exc, FailureSite.PLUGIN_CALL)
        if not isinstance(info, PhaseInfo) or not info.phase.is_terminal():
            got = info.phase.name if isinstance(info, PhaseInfo) else type(info).__name__
            info = PhaseInfo.system_failure(
                "BadPluginResult", f"sync plugin do() must return a terminal PhaseInfo, got {got}"
            )
        # A sync call's answer exists only here: written until Redis takes it.
        durably(partial(self.wb.complete, record, expected, info, actx), f"{execution_id} Do")

    @contextmanager
    def _watching(
        self, execution_id: str, claim: Claim, cancelled: threading.Event
    ) -> Iterator[None]:
        """Set ``cancelled`` as soon as the attempt stops waiting for this call.

        An abort or a timeout ends a sync attempt at once (the scheduler does not wait for
        the call); the call learns it here, within a second, and can stop its work (a task
        process is killed), so the worker slot is free again.
        """
        done = threading.Event()

        def watch() -> None:
            while not done.wait(_WATCH_PERIOD):
                try:
                    record = self.runtime.store.get(execution_id)
                except Exception:
                    continue
                if record is None or record.finished or record.claim != claim:
                    cancelled.set()
                    return

        watcher = threading.Thread(target=watch, name="do-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    # -- get -----------------------------------------------------------------------------------

    async def _call(
        self, loaded: LoadedPlugin, operation: str, subject: str, fn: Any, *args: Any
    ) -> Any:
        """One remote call of the plugin, within its ``caching.workers`` (on the loop)."""
        site = CallSite(loaded.id, loaded.config.caching.workers, operation, subject)
        return await self.runtime.calls.call(site, fn, *args)

    def _status(
        self, loaded: LoadedPlugin, actx: AttemptContext, meta: Any, resource: Any
    ) -> Observation:
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
            with plugin_call(loaded.id, "status", actx.execution_id):
                info = self.runtime.calls.local(loaded.as_async().status, ctx)
            machine.to_webapi_phase(info.phase)
        except Exception as exc:
            return Observation(error=describe(exc))
        return Observation(info=info)

    async def _get(self, loaded: LoadedPlugin, record: ExecutionRecord) -> _Got:
        """Get one resource: (meta, resource, None), or the error that prevented it."""
        try:
            meta = loaded.config.decode_resource_meta(record.webapi.resource_meta or "null")
            get = loaded.as_async().get
            resource = await self._call(loaded, "get", record.id, get, GetContext(meta))
            return meta, resource, None
        except Exception as exc:
            return None, None, exc

    async def _get_all(
        self, loaded: LoadedPlugin, records: list[ExecutionRecord], got: list[_Got | None]
    ) -> None:
        """Every Get of a batch, concurrently, started as the read limiter grants them.

        The limiter is asked for the whole rest of the batch at once (one round trip),
        not once per Get. Each answer goes into ``got`` as it comes.
        """

        async def get(index: int) -> None:
            got[index] = await self._get(loaded, records[index])

        limiter = self.runtime.limiters.get(loaded.id, LimiterKind.READ)
        await paced(limiter, [partial(get, i) for i in range(len(records))])

    def _observe_all(
        self, loaded: LoadedPlugin, records: list[ExecutionRecord]
    ) -> tuple[list[tuple[ExecutionRecord, Observation, AttemptContext]], Exception | None]:
        """Get a batch, then run Status on each answer (in this thread, one after another).

        Returns:
            The observations, and what stopped the batch early (Redis away at the read
            limiter, Celery's soft time limit), if anything did: the answers that came
            are observed all the same; the records whose Get did not answer keep their
            claims, for the scheduler to publish again.
        """
        got: list[_Got | None] = [None] * len(records)
        stopped: Exception | None = None
        try:
            self.runtime.calls.run(partial(self._get_all, loaded, records, got))
        except Exception as exc:
            stopped = exc
        observed = []
        for record, answer in zip(records, got, strict=True):
            if answer is None:
                continue
            meta, resource, error = answer
            actx = self.runtime.contexts.attempt(record)
            if error is not None:
                observation = Observation(error=describe(error))
            else:
                observation = self._status(loaded, actx, meta, resource)
            observed.append((record, observation, actx))
        return observed, stopped

    def get(self, items: list[tuple[str, int]]) -> None:
        """Get a batch of executions of one plugin: the calls run concurrently on one loop."""
        for loaded, records in self._claimed_by_plugin(Step.GET, items):
            observed, stopped = self._observe_all(loaded, records)
            apply_observations(self.wb, loaded, observed)
            if stopped is not None:
                raise stopped  # after the answers that came are written back

    def _claimed_by_plugin(
        self, step: Step, items: Sequence[tuple[str, int]]
    ) -> list[tuple[LoadedPlugin, list[ExecutionRecord]]]:
        """A batch's records that still carry their claim, read in one round trip, by plugin.

        A plugin that cannot load fails the attempts of its records instead.
        """
        by_plugin: dict[str, list[ExecutionRecord]] = {}
        claims = [(execution_id, Claim(step, attempt)) for execution_id, attempt in items]
        for record in self.wb.claimed_many(claims):
            by_plugin.setdefault(record.plugin_id, []).append(record)
        found = []
        for records in by_plugin.values():
            loaded = self.wb.plugin(records[0])
            if loaded is None:
                for record in records[1:]:
                    self.wb.plugin(record)
                continue
            found.append((loaded, records))
        return found
