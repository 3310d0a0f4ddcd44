"""A campaign of scheduler (beat leader) SIGKILLs: a standby takes over, nothing is lost.

Two beats run, one leading, one standing by, with two workers. The leader is SIGKILLed
again and again while remote jobs, Python tasks and core-plugin rounds are in flight;
the killed beat is started again as the new standby. Each takeover's time is printed;
the campaign prints lost, duplicate, leaked and stuck counts and asserts they are zero.

CI runs a small campaign; ``FLYTE_CELERY_SOAK=1`` runs a large one.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from flyteidl.core import tasks_pb2

from plugins.core import Phase
from scheduler import Execution
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, template
from tests.tasks import sample

SOAK = os.environ.get("FLYTE_CELERY_SOAK") == "1"
EXECUTIONS = 200 if SOAK else 24
KILLS = 3
LEADER_LEASE = timedelta(seconds=4)


def test_leader_kills_lose_duplicate_leak_and_strand_nothing(
    redis_server: object, job_service: JobService, ledger: Ledger, tmp_path: Path
) -> None:
    overrides = {"leader_lease": LEADER_LEASE}
    stack = Stack(redis_server.url, tmp_path, job_service.url, overrides=overrides)  # type: ignore[attr-defined]
    try:
        stack.start_worker("w1")
        stack.start_worker("w2")
        beats = {name: stack.start_beat(name) for name in ("beat-a", "beat-b")}
        client = stack.client()

        def leading() -> str | None:
            owner = stack.leader()  # "<host>:<pid>:..." while a beat holds the lease
            if owner is None:
                return None
            pid = owner.split(":")[1]
            return next((n for n, p in beats.items() if str(p.pid) == pid), None)

        executions: list[Execution] = []
        for i in range(EXECUTIONS):
            kind = i % 3
            if kind == 0:
                executions.append(
                    client.submit(template("http_job_capped"), seconds(1.0), project="leaders")
                )
            elif kind == 1:
                executions.append(client.submit(sample.add, {"a": i, "b": 1}, project="leaders"))
            else:
                rounds = tasks_pb2.TaskTemplate(type="rounds")
                executions.append(client.submit(rounds, {}, project="leaders"))
        takeovers: list[float] = []
        for kill in range(KILLS):
            leader = wait_for(leading, timeout=60, what="a leader")
            target = (kill + 1) * EXECUTIONS // (KILLS + 2)
            wait_for(lambda t=target: sum(e.refresh().phase.is_terminal() for e in executions)
                     >= t or len(ledger.create_requests) >= t // 3, timeout=120,
                     what=f"progress before kill {kill + 1}")  # fmt: skip
            stack.kill(leader)
            killed_at = time.monotonic()
            wait_for(
                lambda old=leader: leading() not in (None, old),
                timeout=60,
                what="the standby to take over",
            )
            takeovers.append(time.monotonic() - killed_at)
            beats[leader] = stack.start_beat(leader)  # back, as the standby
        wait_all(executions, timeout=300)
        print(
            f"\n{KILLS} leader SIGKILLs, lease {LEADER_LEASE.total_seconds():g} s: takeovers "
            f"in {', '.join(f'{t:.1f}' for t in takeovers)} s"
        )
        phases = [ex.refresh().phase for ex in executions]
        assert phases == [Phase.SUCCESS] * EXECUTIONS
        counts = tally(client, executions, ledger, "leader kills")
        assert counts.zero() and counts.resent == 0  # workers were not killed
    finally:
        stack.stop()
