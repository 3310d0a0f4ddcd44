"""A campaign of worker SIGKILLs under load: nothing lost, duplicated, leaked or stuck.

Executions of a remote-job plugin (Create, Gets, and for some an abort's Delete) run
on two real workers while one of them is SIGKILLed, whole process group, again and
again, and started anew. At the end every execution has finished as it should, each
attempt created one remote job, and no quota token is held. The counts are printed.

CI runs a small campaign; ``FLYTE_CELERY_SOAK=1`` runs a large one.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from plugins.core import Phase
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.test_flows import seconds, template

SOAK = os.environ.get("FLYTE_CELERY_SOAK") == "1"
EXECUTIONS = 200 if SOAK else 24
KILLS = 20 if SOAK else 4


def test_worker_kills_lose_duplicate_leak_and_strand_nothing(
    redis_server: object, job_service: JobService, ledger: Ledger, tmp_path: Path
) -> None:
    # A job a dying worker had reserved but not started comes back after the visibility
    # timeout (Celery's redelivery, and reconciliation); one it had started comes back once
    # its run lease lapses.
    overrides = {"run_lease": timedelta(seconds=2), "visibility_timeout": timedelta(seconds=15)}
    stack = Stack(redis_server.url, tmp_path, job_service.url, overrides=overrides)  # type: ignore[attr-defined]
    try:
        stack.start_worker("steady")
        stack.start_worker("victim")
        stack.start_beat("beat")
        client = stack.client()
        executions = [
            client.submit(template("http_job_capped"), seconds(1.0), project=f"campaign-{i % 3}")
            for i in range(EXECUTIONS)
        ]
        aborted = executions[::6]
        for kill in range(KILLS):
            # Kill when the campaign has moved on: a few more Creates since the last kill.
            target = (kill + 1) * EXECUTIONS // (KILLS + 1)
            wait_for(lambda t=target: len(ledger.create_requests) >= t, timeout=120,
                     what=f"{target} Creates")  # fmt: skip
            if kill == KILLS // 2:
                for ex in aborted:
                    ex.abort("campaign abort")
            stack.kill("victim")
            stack.start_worker("victim")
        wait_all(executions, timeout=300)
        found = {r.id for r in client.runtime.store.get_many([ex.id for ex in executions])}
        lost = sum(1 for ex in executions if ex.id not in found)
        phases = [ex.refresh().phase for ex in executions]
        stuck = sum(1 for p in phases if not p.is_terminal())

        def as_expected(ex: object, phase: Phase) -> bool:
            # An abort may come after the job already succeeded; then SUCCESS is right too.
            return phase is Phase.SUCCESS or (ex in aborted and phase is Phase.ABORTED)

        wrong = sum(
            1 for ex, phase in zip(executions, phases, strict=True) if not as_expected(ex, phase)
        )
        # Remote jobs are keyed by the attempt's generated name: a job under any other name
        # would be a duplicate. A Create cut off by a kill runs again under the same name,
        # which the service treats as the same job: at most one such repeat per pool slot
        # of the killed worker.
        names = {ex.record.token for ex in executions}  # retries=0: one attempt each
        duplicates = len(set(ledger.jobs) - names)
        repeats = sum(ledger.create_requests.values()) - len(ledger.jobs)
        wait_for(
            lambda: client.runtime.quotas.metrics("http-job-capped:default").held == 0,
            timeout=60,
            what="every token to be released",
        )
        leaked = client.runtime.quotas.metrics("http-job-capped:default").held
        print(
            f"\n{EXECUTIONS} executions, {KILLS} worker SIGKILLs: lost={lost} stuck={stuck} "
            f"wrong={wrong} duplicate remote jobs={duplicates} leaked tokens={leaked}; "
            f"{len(ledger.jobs)} remote jobs, {repeats} Creates re-run after a kill"
        )
        assert (lost, stuck, wrong, duplicates, leaked) == (0, 0, 0, 0, 0)
        assert repeats <= 2 * KILLS  # two pool slots per killed worker
    finally:
        stack.stop()
