"""Due Gets: claim them and publish them in batches per plugin and quota namespace.

A core plugin's next round is a Handle job instead; a record that is due but no
longer waiting for a Get (claimed, or torn down) just leaves the index.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.engine.outbox import Outbox
from scheduler.model import Step
from scheduler.runtime import PluginKind

__all__ = ["dispatch_gets"]


def dispatch_gets(outbox: Outbox, now: datetime) -> int:
    """Claim every Get due at ``now`` (up to the batch) and publish them.

    The store claims them server-side in one script call, from the records' routes;
    nothing is read or decoded here. A core plugin's next round is a Handle job.

    Returns:
        How many were claimed.
    """
    runtime = outbox.runtime
    core = [p.id for p in runtime.plugins.loadable() if p.kind is PluginKind.CORE]
    groups: dict[str, list[tuple[str, int]]] = {}
    claimed = runtime.store.claim_due(now, outbox.batch, core)
    for due in claimed:
        queue = runtime.queue_of(due.plugin_id, due.namespace)
        if due.claim.step is Step.HANDLE:
            outbox.publish_one(Step.HANDLE, due.id, due.claim.attempt, queue)
        else:
            groups.setdefault(queue, []).append((due.id, due.claim.attempt))
    for queue, items in groups.items():
        outbox.publish_gets(queue, items)
    return len(claimed)
