"""Due Gets: claim them and publish them in jobs per plugin and quota namespace.

A core plugin's next round is a Handle job instead; a record that is due but no
longer waiting for a Get (claimed, or torn down) just leaves the index.

Jobs are made full when the Gets are dense: a prefork worker process runs one job at a
time, so a plugin whose calls wait on a remote service runs ``caching.workers`` of them
at once only when a job brings that many. So while a whole job's worth (the largest Get
batch of a plugin, :meth:`PluginSet.get_batch_size`) falls due within
:data:`FULL_JOB_COALESCE`, a tick claims whole jobs only and the next tick comes when the
next whole job is due; a Get never waits longer than that. Sparse Gets are claimed as
they fall due, :data:`GET_COALESCE` apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler._backend import DueOutlook
from scheduler._engine.outbox import Outbox
from scheduler._model import Step
from scheduler._runtime import PluginKind, Runtime

__all__ = ["FULL_JOB_COALESCE", "GET_COALESCE", "dispatch_gets", "next_gets"]

GET_COALESCE = timedelta(milliseconds=100)
"""Gets falling due within this long of each other are claimed by one tick, so that they
go out in batches instead of a tick and a job for every few. Against a resync of seconds
the delay is nothing; a signal still wakes the scheduler at once."""

FULL_JOB_COALESCE = timedelta(seconds=1)
"""The longest a due Get waits for its job to fill (see the module's docstring)."""


def _outlook(runtime: Runtime, now: datetime) -> tuple[DueOutlook, int]:
    job = runtime.plugins.largest_get_batch()
    return runtime.store.indexes.due_outlook(now, rank=job - 1), job


def _dense(outlook: DueOutlook, now: datetime) -> bool:
    """A whole job is due within FULL_JOB_COALESCE, and no Get has waited that long yet."""
    soon = outlook.ranked is not None and outlook.ranked - now <= FULL_JOB_COALESCE
    stale = outlook.first is not None and now - outlook.first >= FULL_JOB_COALESCE
    return soon and not stale


def dispatch_gets(outbox: Outbox, now: datetime) -> int:
    """Claim the Gets due at ``now`` (whole jobs only while dense) and publish them.

    The store claims them server-side in one script call, from the records' routes;
    nothing is read or decoded here. Each plugin's Gets go out in jobs of its Get batch
    size; a core plugin's next round is a Handle job.

    Returns:
        How many were claimed.
    """
    runtime = outbox.runtime
    outlook, job = _outlook(runtime, now)
    limit = max(outbox.batch, job)
    if _dense(outlook, now):
        limit = min(outlook.due, limit) // job * job
    if outlook.due == 0 or limit == 0:
        return 0
    core = [p.id for p in runtime.plugins.loadable() if p.kind is PluginKind.CORE]
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    claimed = runtime.store.indexes.claim_due(now, limit, core)
    for due in claimed:
        queue = runtime.queues.of(due.plugin_id, due.namespace)
        if due.claim.step is Step.HANDLE:
            outbox.publish_one(Step.HANDLE, due.id, due.claim.attempt, queue)
        else:
            groups.setdefault((due.plugin_id, queue), []).append((due.id, due.claim.attempt))
    for (plugin_id, queue), items in groups.items():
        outbox.publish_gets(queue, items, runtime.plugins.get_batch_size(plugin_id))
    return len(claimed)


def next_gets(runtime: Runtime, now: datetime) -> timedelta | None:
    """How long until a tick should claim Gets again; ``None``: none is waiting."""
    outlook, _ = _outlook(runtime, now)
    if outlook.first is None:
        return None
    if _dense(outlook, now):
        assert outlook.ranked is not None
        return max(timedelta(0), outlook.ranked - now)  # the next whole job
    if now - outlook.first >= FULL_JOB_COALESCE:
        return timedelta(0)  # a backlog (or a Get that waited its longest): at once
    return max(GET_COALESCE, outlook.first - now)
