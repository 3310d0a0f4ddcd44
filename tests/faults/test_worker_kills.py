"""A campaign of worker SIGKILLs under load: nothing lost, duplicated, leaked or stuck.

Executions of every step kind run on two real workers (a remote-job plugin's Create,
Gets and, for some, an abort's Delete; Python tasks' Do calls; a core plugin's Handle
rounds) while one worker is SIGKILLed, whole process group, again and again, and
started anew. At the end every execution has finished as it should, each attempt
created one remote job, and no quota token is held. The counts are printed.

CI runs a small campaign; ``FLYTE_CELERY_SOAK=1`` runs a large one.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flyteidl.core import tasks_pb2

from plugins.core import Phase
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, template
from tests.tasks import sample

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
        executions = []
        for i in range(EXECUTIONS):
            project = f"campaign-{i % 3}"
            if i % 4 == 1:
                executions.append(client.submit(sample.nap, {"seconds": 0.5}, project=project))
            elif i % 4 == 3:
                rounds = tasks_pb2.TaskTemplate(type="rounds")
                executions.append(client.submit(rounds, {}, project=project))
            else:
                executions.append(
                    client.submit(template("http_job_capped"), seconds(1.0), project=project)
                )
        aborted = executions[::8]  # remote jobs only: Delete runs during the kills too
        ids = [ex.id for ex in executions]

        def started() -> int:
            records = client.runtime.store.get_many(ids)
            return sum(1 for r in records if r.phase is Phase.RUNNING or r.phase.is_terminal())

        for kill in range(KILLS):
            # Kill when the campaign has moved on: more executions started since the last kill.
            target = (kill + 1) * EXECUTIONS // (KILLS + 1)
            wait_for(lambda t=target: started() >= t, timeout=180, interval=0.2,
                     what=f"{target} executions to start")  # fmt: skip
            if kill == KILLS // 2:
                for ex in aborted:
                    ex.abort("campaign abort")
            stack.kill("victim")
            stack.start_worker("victim")
        wait_all(executions, timeout=300)
        phases = [ex.refresh().phase for ex in executions]

        def as_expected(ex: object, phase: Phase) -> bool:
            # An abort may come after the job already succeeded; then SUCCESS is right too.
            return phase is Phase.SUCCESS or (ex in aborted and phase is Phase.ABORTED)

        wrong = sum(
            1 for ex, phase in zip(executions, phases, strict=True) if not as_expected(ex, phase)
        )
        counts = tally(client, executions, ledger, f"{KILLS} worker SIGKILLs")
        print(f"wrong phases={wrong}")
        assert counts.zero() and wrong == 0
        # A Create cut off by a kill is sent again under the same name (the same remote
        # job): at most once per pool slot of a killed worker. Run leases rule out any
        # other repeat, such as a redelivered job running alongside the first.
        assert counts.resent <= 2 * KILLS
    finally:
        stack.stop()
