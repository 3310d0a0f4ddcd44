"""What a fault campaign counts: lost, duplicate, leaked and stuck; printed, then asserted zero."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from scheduler import Client, Execution
from tests.helpers import wait_for
from tests.integration.jobservice import Ledger


@dataclass(frozen=True)
class Tally:
    """The counts of one campaign; all but ``resent`` must be zero."""

    lost: int
    duplicates: int
    leaked: int
    stuck: int
    resent: int = 0

    def zero(self) -> bool:
        return (self.lost, self.duplicates, self.leaked, self.stuck) == (0, 0, 0, 0)


def attempt_names(executions: Sequence[Execution]) -> set[str]:
    """The generated name of every attempt the executions made (the Create keys)."""
    names: set[str] = set()
    for ex in executions:
        record = ex.record
        for attempt in range(record.attempt + 1):
            names.add(replace(record, attempt=attempt).token)
    return names


def held_tokens(client: Client) -> int:
    """Quota tokens held in every namespace."""
    quotas = client.runtime.quotas
    return sum(quotas.metrics(namespace).held for namespace in quotas.namespaces())


def tally(
    client: Client, executions: Sequence[Execution], ledger: Ledger | None, label: str
) -> Tally:
    """Count what went wrong in a finished campaign, and print it.

    Lost: an execution whose record is gone. Stuck: one not finished. Duplicates:
    remote jobs beyond one per attempt (a job under a name that is no attempt's
    generated name). Leaked: quota tokens still held once every execution finished.
    Resent (information, not a fault): Create requests repeated under one attempt's
    name, which the remote service deduplicates; a worker killed in the middle of a
    Create cannot know whether its request arrived, so the Create is sent again.
    """
    found = {r.id for r in client.runtime.store.get_many([ex.id for ex in executions])}
    stuck = sum(1 for ex in executions if not ex.refresh().phase.is_terminal())
    duplicates = resent = 0
    if ledger is not None:
        duplicates = len(set(ledger.jobs) - attempt_names(executions))
        resent = sum(count - 1 for count in ledger.create_requests.values() if count > 1)
    if not stuck:
        wait_for(lambda: held_tokens(client) == 0, timeout=60, what="every token to be released")
    result = Tally(
        lost=sum(1 for ex in executions if ex.id not in found),
        duplicates=duplicates,
        leaked=held_tokens(client),
        stuck=stuck,
        resent=resent,
    )
    print(
        f"\n{label}: {len(executions)} executions: lost={result.lost} "
        f"duplicate remote jobs={result.duplicates} leaked tokens={result.leaked} "
        f"stuck={result.stuck} (Create requests re-sent under the same name: {resent})"
    )
    return result
