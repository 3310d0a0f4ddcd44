"""A real HTTP job service for the remote-plugin tests.

Jobs are keyed by name, so Create is idempotent; the service records every
request, how many jobs ran at once (per project and domain too), and when each
Create arrived. Tests steer it: finish jobs, fail Gets, hold Creates open so a
worker can be killed in the middle of one, and, per project, answer Creates with
HTTP errors, fail Deletes, or hang Creates and Gets.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class JobState:
    name: str
    project: str
    domain: str
    state: str = "RUNNING"
    finish_at: float | None = None


@dataclass
class Ledger:
    jobs: dict[str, JobState] = field(default_factory=dict)
    create_requests: Counter[str] = field(default_factory=Counter)
    create_times: list[float] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    gets: Counter[str] = field(default_factory=Counter)
    max_running: int = 0
    max_by_project: Counter[str] = field(default_factory=Counter)
    max_by_domain: Counter[str] = field(default_factory=Counter)
    fail_gets: set[str] = field(default_factory=set)
    hold_creates: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    hold_gets: threading.Event = field(default_factory=threading.Event)
    get_held: threading.Event = field(default_factory=threading.Event)
    auto_finish: float | None = 0.0  # seconds after create; None: only when told
    create_errors: dict[str, list[int]] = field(default_factory=dict)  # project: next codes
    failing_deletes: set[str] = field(default_factory=set)  # projects whose Deletes fail
    hanging_creates: set[str] = field(default_factory=set)  # projects whose Creates hang
    hanging_gets: set[str] = field(default_factory=set)  # projects whose Gets hang
    released: threading.Event = field(default_factory=threading.Event)  # ends every hang
    delete_requests: Counter[str] = field(default_factory=Counter)
    final_answers: Counter[str] = field(default_factory=Counter)  # Gets that saw the job end
    # Called once a Get's answer that the job ended has been sent (a fault test's trigger).
    after_final_answer: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _tick(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if job.state == "RUNNING" and job.finish_at is not None and now >= job.finish_at:
                job.state = "SUCCEEDED"
        running = [j for j in self.jobs.values() if j.state == "RUNNING"]
        self.max_running = max(self.max_running, len(running))
        for key, counter in (("project", self.max_by_project), ("domain", self.max_by_domain)):
            counts = Counter(
                j.project if key == "project" else f"{j.project}/{j.domain}" for j in running
            )
            for k, v in counts.items():
                counter[k] = max(counter[k], v)

    def reset(self) -> None:
        """Forget everything (between tests that share one service)."""
        with self.lock:
            self.jobs.clear()
            self.create_requests.clear()
            self.create_times.clear()
            self.deletes.clear()
            self.gets.clear()
            self.max_by_project.clear()
            self.max_by_domain.clear()
            self.fail_gets.clear()
            self.create_errors.clear()
            self.failing_deletes.clear()
            self.hanging_creates.clear()
            self.hanging_gets.clear()
            self.delete_requests.clear()
            self.final_answers.clear()
            self.after_final_answer = None
            self.max_running = 0
            self.auto_finish = 0.0
        self.hold_creates.clear()
        self.hold_gets.clear()
        self.held.clear()
        self.get_held.clear()
        self.released.clear()

    def running(self) -> int:
        with self.lock:
            self._tick()
            return sum(1 for j in self.jobs.values() if j.state == "RUNNING")

    def finish(self, name: str, state: str = "SUCCEEDED") -> None:
        with self.lock:
            self.jobs[name].state = state


class _Handler(BaseHTTPRequestHandler):
    """Serves one request against the server's ledger."""

    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        # The caller may have given up (a call cut off by its time limit): nothing to tell.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def do_POST(self) -> None:
        ledger = self.server.ledger
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = body["name"]
        with ledger.lock:
            ledger.create_requests[name] += 1
            ledger.create_times.append(time.monotonic())
            errors = ledger.create_errors.get(body["project"])
            code = errors.pop(0) if errors else None
            hang = body["project"] in ledger.hanging_creates
        if code is not None:
            self._reply(code, {"error": f"HTTP {code} for {name}"})
            return
        if hang:
            ledger.released.wait(120)
        with ledger.lock:
            if name not in ledger.jobs:
                finish = None
                if ledger.auto_finish is not None:
                    finish = time.monotonic() + ledger.auto_finish + float(body.get("seconds", 0))
                ledger.jobs[name] = JobState(
                    name, body["project"], body["domain"], finish_at=finish
                )
            ledger._tick()
        if ledger.hold_creates.is_set():
            ledger.held.set()
            while ledger.hold_creates.is_set():
                time.sleep(0.01)
        self._reply(200, {"name": name})

    def do_GET(self) -> None:
        ledger = self.server.ledger
        name = self.path.rsplit("/", 1)[1]
        if ledger.hold_gets.is_set():
            ledger.get_held.set()
            while ledger.hold_gets.is_set():
                time.sleep(0.01)
        with ledger.lock:
            known = ledger.jobs.get(name)
            hang = known is not None and known.project in ledger.hanging_gets
        if hang:
            ledger.released.wait(120)
        with ledger.lock:
            ledger.gets[name] += 1
            ledger._tick()
            job = ledger.jobs.get(name)
            failing = name in ledger.fail_gets
        if failing:
            self._reply(503, {"error": f"status backend unavailable for {name}"})
        elif job is None:
            self._reply(404, {"error": f"no job {name}"})
        else:
            ended = job.state != "RUNNING"
            if ended:
                with ledger.lock:
                    ledger.final_answers[name] += 1
            self._reply(200, {"name": name, "state": job.state})
            if ended and ledger.after_final_answer is not None:
                ledger.after_final_answer()

    def do_DELETE(self) -> None:
        ledger = self.server.ledger
        name = self.path.rsplit("/", 1)[1]
        with ledger.lock:
            ledger.delete_requests[name] += 1
            job = ledger.jobs.get(name)
            if job is not None and job.project in ledger.failing_deletes:
                failing = True
            else:
                failing = False
                ledger.deletes.append(name)
                if job is not None:
                    job.state = "DELETED"
        if failing:
            self._reply(500, {"error": f"cannot delete {name} now"})
        else:
            self._reply(200, {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        super().__init__(("127.0.0.1", 0), _Handler)


class JobService:
    """The service, on a free loopback port, in a background thread."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.server = _Server(self.ledger)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.ledger.released.set()
        self.ledger.hold_creates.clear()
        self.ledger.hold_gets.clear()
        self.server.shutdown()
        self.server.server_close()
