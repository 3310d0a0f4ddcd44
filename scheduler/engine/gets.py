"""Due Gets: claim them and publish them in batches per plugin and quota namespace.

A core plugin's next round is a Handle job instead; a record that is due but no
longer waiting for a Get (claimed, or torn down) just leaves the index.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from scheduler.engine.outbox import Outbox
from scheduler.model import ExecutionRecord, Step, WebAPIPhase, machine
from scheduler.runtime import PluginKind

__all__ = ["dispatch_gets"]


def _is_core(outbox: Outbox, record: ExecutionRecord) -> bool:
    try:
        return outbox.runtime.plugins.get(record.plugin_id).kind is PluginKind.CORE
    except Exception:
        return False  # the Get job reports the load failure on the record


def dispatch_gets(outbox: Outbox, now: datetime) -> None:
    """Claim every Get due at ``now`` (up to the batch) and publish them."""
    groups: dict[str, list[ExecutionRecord]] = {}
    for record in outbox.records(outbox.runtime.store.due(now, outbox.batch)):
        if record.claim is not None or record.webapi.phase is not WebAPIPhase.RESOURCES_CREATED:
            outbox.write(record, replace(record, next_get_at=None))
            continue
        core = _is_core(outbox, record)
        step = Step.HANDLE if core else Step.GET
        written = outbox.write(
            record, replace(machine.claimed(record, now, step), next_get_at=None)
        )
        if written is None:
            continue
        if core:
            outbox.publish_claimed(written)
        else:
            groups.setdefault(outbox.runtime.queue_for(written), []).append(written)
    for queue, records in groups.items():
        outbox.publish_gets(queue, records)
