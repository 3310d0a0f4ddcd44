"""Due Gets: claim them and publish them in batches per plugin and quota namespace.

A core plugin's next round is a Handle job instead; a record that is due but no
longer waiting for a Get (claimed, or torn down) just leaves the index.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.engine.outbox import Outbox
from scheduler.model import ExecutionRecord, Step, WebAPIPhase, machine
from scheduler.model.evolve import evolve
from scheduler.runtime import PluginKind

__all__ = ["dispatch_gets"]


def _is_core(outbox: Outbox, record: ExecutionRecord) -> bool:
    try:
        return outbox.runtime.plugins.get(record.plugin_id).kind is PluginKind.CORE
    except Exception:
        return False  # the Get job reports the load failure on the record


def dispatch_gets(outbox: Outbox, now: datetime) -> None:
    """Claim every Get due at ``now`` (up to the batch) and publish them.

    The claims are written in one round trip (each its own compare-and-set).
    """
    pairs: list[tuple[ExecutionRecord, ExecutionRecord]] = []
    steps: list[Step | None] = []  # the step claimed; None: the record just leaves the index
    for record in outbox.records(outbox.runtime.store.due(now, outbox.batch)):
        if record.claim is not None or record.webapi.phase is not WebAPIPhase.RESOURCES_CREATED:
            pairs.append((record, evolve(record, next_get_at=None)))
            steps.append(None)
            continue
        claimed = Step.HANDLE if _is_core(outbox, record) else Step.GET
        pairs.append((record, evolve(machine.claimed(record, now, claimed), next_get_at=None)))
        steps.append(claimed)
    groups: dict[str, list[ExecutionRecord]] = {}
    for step, written in zip(steps, outbox.write_many(pairs), strict=True):
        if written is None or step is None:
            continue
        if step is Step.HANDLE:
            outbox.publish_claimed(written)
        else:
            groups.setdefault(outbox.runtime.queue_for(written), []).append(written)
    for queue, records in groups.items():
        outbox.publish_batch(Step.GET, queue, records)
