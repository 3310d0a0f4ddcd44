"""A chaos soak: every fault of tests/faults/, at random, over a steady stream of executions.

Two workers and two beats (a leader and its standby) on a Redis with an append-only file
run a stream of executions of every kind: remote jobs (Create, Gets, some aborted, so
Delete), Python tasks in their own processes (Do), a core plugin's rounds (Handle), and
executions whose inputs file is corrupt. Meanwhile :class:`tests.faults.chaos.Chaos`
runs one fault after another, in a random order that meets every one in each round: a
worker or the leading beat SIGKILLed, Redis paused past every timeout, full, demoted to a
read-only replica, refusing writes after a failed snapshot (MISCONF), or restarted, the
remote answering 500s and 429s or failing Gets.

Then the faults stop and the checks are the fault suite's: nothing lost, stuck, leaked or
duplicated; each execution ends as it should (SUCCESS; ABORTED for an abort that came in
time; a failure naming the corrupt inputs); every process is alive. The figures are
printed.

CI runs a minute of it, or one round of every fault if that takes longer (about 90 s).
``FLYTE_CELERY_SOAK=1`` runs ``FLYTE_CELERY_SOAK_SECONDS`` (default 600);
``FLYTE_CELERY_SOAK_SEED`` replays a soak (each prints its seed).
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

import redis
from flyteidl.core import tasks_pb2

from plugins.core import Phase
from plugins.errors import BackendUnavailableError, FlyteCeleryError
from scheduler import Client, Execution
from scheduler.testing import RedisServer
from tests.faults.chaos import BEATS, WORKERS, Chaos
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, submit_with_raw_inputs, template
from tests.tasks import sample

SOAK = os.environ.get("FLYTE_CELERY_SOAK") == "1"
DURATION = float(os.environ.get("FLYTE_CELERY_SOAK_SECONDS", "600")) if SOAK else 60.0
SEED = int(os.environ.get("FLYTE_CELERY_SOAK_SEED", "0")) or random.randrange(1, 10**6)
PROJECTS = ("soak-a", "soak-b", "soak-c", "soak-d")
RATE = 3.0
"""Executions submitted per second, a steady stream across every fault."""


@dataclass
class Stream:
    """Submits executions of every kind at :data:`RATE` until told to stop.

    A submission Redis refused (away, paused, full, read-only) is not tried again; one
    that raised but landed is found by its name at the end, and checked like the others.
    """

    client: Client
    rng: random.Random
    executions: list[Execution] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # execution id -> kind
    aborted: set[str] = field(default_factory=set)
    unsure: dict[str, str] = field(default_factory=dict)  # execution id -> kind
    refused: int = 0
    landed: int = 0
    died: BaseException | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        count = 0
        try:
            while not self.stop.is_set():
                self._submit(count)
                count += 1
                if count % 10 == 5:
                    self._abort_one()
                self.stop.wait(1 / RATE)
        except BaseException as exc:  # the test reports it: a stream that died says why
            self.died = exc
            raise

    def _submit(self, count: int) -> None:
        project = PROJECTS[count % len(PROJECTS)]
        name = f"s{SEED}-{count}"
        kind = ("remote", "remote", "python", "rounds", "remote", "corrupt")[count % 6]
        try:
            execution = self._start(kind, project, name)
        except (BackendUnavailableError, redis.RedisError):
            # Refused, or cut off (a stalled Redis may still run the write once it wakes):
            # looked for by name at the end. The stream goes on with the next one.
            # (A corrupt one is written past the client with a name of its own; one that
            # raised but landed runs unseen by the checks.)
            self.refused += 1
            self.unsure[f"{project}/development/{name}"] = kind
            self.stop.wait(0.5)
            return
        self.executions.append(execution)
        self.kinds[execution.id] = kind

    def settle(self) -> None:
        """Find the submissions that raised but landed: they count like the others."""
        for execution_id, kind in self.unsure.items():
            try:
                execution = self.client.get(execution_id)
            except FlyteCeleryError:
                continue  # it never landed
            self.executions.append(execution)
            self.kinds[execution.id] = kind
            self.landed += 1

    def _start(self, kind: str, project: str, name: str) -> Execution:
        submit = partial(self.client.submit, project=project, name=name)
        if kind == "remote":
            # Retries, as a user gives a remote that may answer 500: a failed Create ends
            # the attempt (the task's failure, as in Flyte), and the next one succeeds.
            task = template("http_job_capped", retries=3)
            return submit(task, seconds(self.rng.uniform(0.2, 3)))
        if kind == "python":
            return submit(sample.nap, {"seconds": 0.2})
        if kind == "rounds":
            return submit(tasks_pb2.TaskTemplate(type="rounds"), {})
        task = template("http_job_capped")
        return submit_with_raw_inputs(self.client, task, b"\xff corrupt", project)

    def _abort_one(self) -> None:
        remote = [ex for ex in self.executions[-6:] if self.kinds[ex.id] == "remote"]
        if not remote:
            return
        execution = remote[-1]
        # Counted before it is asked: an abort cut off by a stalled Redis may still be
        # taken once it wakes. (An aborted execution may end SUCCESS, too: see as_expected.)
        self.aborted.add(execution.id)
        with contextlib.suppress(FlyteCeleryError, redis.RedisError):
            execution.abort("soak abort")


def as_expected(stream: Stream, execution: Execution) -> bool:
    """Whether an execution ended as its kind says it must."""
    phase, kind = execution.phase, stream.kinds[execution.id]
    if kind == "corrupt":
        error = execution.error()
        return (
            phase is Phase.PERMANENT_FAILURE and error is not None and "inputs.pb" in error.message
        )
    if execution.id in stream.aborted:
        # An abort may come after the job already succeeded; then SUCCESS is right too.
        return phase in (Phase.ABORTED, Phase.SUCCESS)
    return phase is Phase.SUCCESS


def test_a_chaos_soak_loses_repeats_leaks_and_strands_nothing(
    job_service: JobService, ledger: Ledger, tmp_path: Path
) -> None:
    server = RedisServer.start(tmp_path, persistence=True)
    overrides = {"visibility_timeout": timedelta(minutes=2), "run_lease": timedelta(seconds=3)}
    stack = Stack(server.url, tmp_path, job_service.url, overrides=overrides)
    stream: Stream | None = None
    try:
        for name in WORKERS:
            stack.start_worker(name)
        for name in BEATS:
            stack.start_beat(name)
        rng = random.Random(SEED)
        chaos = Chaos(stack, server, ledger, rng, PROJECTS)
        stream = Stream(stack.client(), random.Random(SEED + 1))
        submitter = threading.Thread(target=stream.run, name="stream", daemon=True)
        submitter.start()
        started = time.monotonic()
        timeline: list[str] = []
        # For the set time, and at least one round of every fault.
        while time.monotonic() - started < DURATION or len(timeline) < len(chaos.faults()):
            time.sleep(rng.uniform(2, 6))  # a quiet spell between faults
            at = time.monotonic() - started
            timeline.append(f"{at:.0f}s {chaos.one()}")
        faulted = time.monotonic() - started
        stream.stop.set()
        submitter.join(60)
        assert stream.died is None, f"the stream of submissions died: {stream.died!r}"
        stream.settle()
        faults_over = time.monotonic()
        wait_all(stream.executions, timeout=300)
        drained = time.monotonic() - faults_over
        executions = stream.executions
        wrong = [ex for ex in executions if not as_expected(stream, ex)]
        kinds = Counter(stream.kinds.values())
        print(
            f"\nchaos soak, seed {SEED}: {faulted:.0f}s of faults, {len(executions)} "
            f"executions ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
            f"{len(stream.aborted)} aborted; {stream.refused} submissions refused (of which "
            f"{stream.landed} landed); all finished {drained:.1f}s after the last fault"
        )
        print("faults: " + ", ".join(f"{name} x{n}" for name, n in sorted(chaos.done.items())))
        print("timeline: " + "; ".join(timeline))
        for ex in wrong[:10]:
            error = ex.error()
            print(f"  not as expected: {ex.id} {stream.kinds[ex.id]} {ex.phase.name} {error}")
        counts = tally(stack.client(), executions, ledger, f"chaos soak (seed {SEED})")
        assert counts.zero() and not wrong, f"seed {SEED}"
        # A Create cut off by a kill is sent again under the same name (the same remote
        # job): at most once per pool slot of a killed worker. Nothing else repeats one.
        assert counts.resent <= 2 * chaos.kills, f"seed {SEED}"
        assert all(stack.alive().values()), stack.alive()
        for name in (*WORKERS, *BEATS):
            assert "Unrecoverable error" not in stack.log(name).read_text(errors="replace")
        wait_for(lambda: stack.leader() is not None, timeout=60, what="a leader")
    finally:
        if stream is not None:
            stream.stop.set()
        stack.stop()
        server.stop()
