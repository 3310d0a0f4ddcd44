"""The faults of tests/faults/, as actions a chaos soak picks from at random.

Each fault is bounded and undone before it returns (a finally), so a failed soak leaves no
Redis paused, full or read-only behind. They act on real processes: the stack's workers
and beats, its redis-server, and the HTTP job service its remote plugin calls.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from scheduler.testing import RedisServer
from tests.helpers import free_port, wait_for
from tests.integration.jobservice import Ledger
from tests.integration.stack import Stack

WORKERS = ("w1", "w2")
BEATS = ("beat-a", "beat-b")


@contextmanager
def demoted(server: RedisServer) -> Iterator[None]:
    """Redis turned replica (as a failover demotes a primary): every write is READONLY.

    Its primary is nobody, so it keeps its data and serves reads; it leads again after.
    """
    admin = server.client()
    admin.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))  # nobody listens there
    try:
        yield
    finally:
        admin.execute_command("REPLICAOF", "NO", "ONE")


@contextmanager
def failed_snapshot(server: RedisServer) -> Iterator[None]:
    """Redis whose last snapshot failed: every write is refused ``MISCONF``.

    That is ``stop-writes-on-bgsave-error`` (on by default) once snapshots are configured
    and one fails: here, written to a folder where nobody, root included, creates files.
    """
    admin = server.client()
    folder = admin.config_get("dir")["dir"]

    def saved(status: str) -> bool:
        info = admin.info("persistence")
        return info["rdb_bgsave_in_progress"] == 0 and info["rdb_last_bgsave_status"] == status

    admin.config_set("save", "3600 1")
    admin.config_set("dir", "/proc")
    wait_for(lambda: saved("ok") or saved("err"), timeout=30, what="no snapshot in progress")
    admin.bgsave()
    wait_for(lambda: saved("err"), timeout=30, what="the snapshot to fail")
    try:
        yield
    finally:
        admin.config_set("dir", folder)
        wait_for(lambda: saved("ok") or saved("err"), timeout=30, what="no snapshot in progress")
        admin.bgsave()
        wait_for(lambda: saved("ok"), timeout=30, what="a snapshot to succeed")
        admin.config_set("save", "")


@dataclass
class Chaos:
    """Faults on one stack, chosen with ``rng`` (seeded, so a soak can be replayed).

    Attributes:
        done: How many times each fault ran.
        kills: Processes killed (a Create cut off by a kill may be sent again).
    """

    stack: Stack
    server: RedisServer
    ledger: Ledger
    rng: random.Random
    projects: tuple[str, ...]
    done: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    _deck: list[str] = field(default_factory=list)

    def faults(self) -> dict[str, Callable[[], None]]:
        """Every fault, by name."""
        return {
            "worker SIGKILL": self.kill_worker,
            "leader SIGKILL": self.kill_leader,
            "Redis paused (SIGSTOP)": self.pause_redis,
            "Redis full (maxmemory)": self.fill_redis,
            "Redis read-only (demoted)": self.demote_redis,
            "Redis MISCONF (a snapshot failed)": self.fail_a_snapshot,
            "Redis restarted": self.restart_redis,
            "remote 500s and 429s": self.remote_errors,
            "remote Gets failing": self.failing_gets,
        }

    def one(self) -> str:
        """Run the next fault of a shuffled deck of them all; its name.

        A deck, not a draw each time: every fault comes once in each round of them, so a
        short soak (a minute in CI) still meets each one.
        """
        if not self._deck:
            self._deck = sorted(self.faults())
            self.rng.shuffle(self._deck)
        name = self._deck.pop()
        self.faults()[name]()
        self.done[name] += 1
        return name

    def _length(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def kill_worker(self) -> None:
        name = self.rng.choice(WORKERS)
        self.stack.kill(name)  # the whole process group: pool children and task processes
        self.kills += 1
        self.stack.start_worker(name)

    def kill_leader(self) -> None:
        leader = wait_for(self._leading_beat, timeout=60, what="a leading beat")
        self.stack.kill(leader)
        self.kills += 1
        self.stack.start_beat(leader)  # back, as the standby

    def _leading_beat(self) -> str | None:
        owner = self.stack.leader()  # "<host>:<pid>:..." while a beat holds the lease
        if owner is None:
            return None
        pid = owner.split(":")[1]
        return next((n for n in BEATS if str(self.stack.processes[n].pid) == pid), None)

    def pause_redis(self) -> None:
        # Past redis-py's socket timeout (10 s) about half the time.
        os.kill(self.server.process.pid, signal.SIGSTOP)
        try:
            time.sleep(self._length(4, 14))  # the fault's length
        finally:
            os.kill(self.server.process.pid, signal.SIGCONT)

    def fill_redis(self) -> None:
        admin = self.server.client()
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory", max(1, used // 2))  # every write is refused
        try:
            time.sleep(self._length(3, 10))
        finally:
            admin.config_set("maxmemory", 0)

    def demote_redis(self) -> None:
        with demoted(self.server):
            time.sleep(self._length(3, 10))

    def fail_a_snapshot(self) -> None:
        with failed_snapshot(self.server):
            time.sleep(self._length(3, 10))

    def restart_redis(self) -> None:
        self.server.stop()  # SIGTERM: Redis writes its append-only file and exits
        try:
            time.sleep(self._length(2, 6))
        finally:
            self.server.start_again()

    def remote_errors(self) -> None:
        # The next Creates of two projects answer 500, then 429: each ends an attempt, and
        # the system retries the execution.
        for project in self.rng.sample(self.projects, 2):
            with self.ledger.lock:
                self.ledger.create_errors[project] = [500, 429]

    def failing_gets(self) -> None:
        # Some running jobs' Gets answer 503 for a while: below the plugin's failure budget
        # (maxSystemFailures 2 at a 5 s resync), so the executions carry on.
        with self.ledger.lock:
            running = [n for n, j in self.ledger.jobs.items() if j.state == "RUNNING"]
            chosen = set(self.rng.sample(running, min(3, len(running))))
            self.ledger.fail_gets |= chosen
        try:
            time.sleep(self._length(1, 4))
        finally:
            with self.ledger.lock:
                self.ledger.fail_gets -= chosen
