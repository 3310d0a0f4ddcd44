"""A real HTTP job service for the realistic scale benchmark, with a remote latency.

``python -m tests.benchmarks.httpjobs [--latency 0.05]`` serves on a free loopback port
(printed as ``listening on <port>``), with aiohttp, in a process of its own:

- ``POST /jobs`` ``{"name": ...}``: create the job (idempotent on the name);
- ``GET /jobs/<name>``: ``{"state": "RUNNING"}`` until released, then ``"SUCCEEDED"``;
- ``DELETE /jobs/<name>``: cancel it;
- ``POST /release``: every job succeeds from now on;
- ``GET /stats``: how many Gets and Creates it answered, and how many names were created
  more than once.

Every answer but ``/stats`` and ``/release`` comes after ``--latency`` seconds, as from a
remote service. :class:`JobServiceProcess` starts it for a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]


class _Jobs:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.creates: Counter[str] = Counter()
        self.cancelled: set[str] = set()
        self.gets = 0
        self.released = False

    async def create(self, request: web.Request) -> web.Response:
        name = str((await request.json())["name"])
        await asyncio.sleep(self.latency)
        self.creates[name] += 1
        return web.json_response({"name": name})

    async def get(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await asyncio.sleep(self.latency)
        if name not in self.creates:
            return web.json_response({"error": f"no job {name}"}, status=404)
        self.gets += 1
        state = "SUCCEEDED" if self.released else "RUNNING"
        if name in self.cancelled:
            state = "DELETED"
        return web.json_response({"name": name, "state": state})

    async def delete(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.latency)
        self.cancelled.add(request.match_info["name"])
        return web.json_response({})

    async def release(self, _: web.Request) -> web.Response:
        self.released = True
        return web.json_response({})

    async def stats(self, _: web.Request) -> web.Response:
        twice = sum(1 for n in self.creates.values() if n > 1)
        return web.json_response({"gets": self.gets, "jobs": len(self.creates), "twice": twice})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args(argv)
    jobs = _Jobs(args.latency)
    app = web.Application()
    app.router.add_post("/jobs", jobs.create)
    app.router.add_get("/jobs/{name}", jobs.get)
    app.router.add_delete("/jobs/{name}", jobs.delete)
    app.router.add_post("/release", jobs.release)
    app.router.add_get("/stats", jobs.stats)

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"listening on {port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


class JobServiceProcess:
    """The service in a process of its own, for one benchmark.

    Args:
        latency: Seconds before each answer.
    """

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.httpjobs", "--latency", str(latency)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.close()
            raise RuntimeError(f"the job service did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[-1])}"

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    def stats(self) -> dict[str, int]:
        """``gets``, ``jobs`` (created) and ``twice`` (names created more than once)."""
        return {k: int(v) for k, v in self._call("GET", "/stats").items()}

    def release(self) -> None:
        """Every job succeeds from now on."""
        self._call("POST", "/release")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        if self.process.stdout is not None:
            self.process.stdout.close()


if __name__ == "__main__":
    main()
