"""A real ``flyte-celery console`` process (the console and the HTTP API), for the tests."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["console_process"]

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def console_process(env: dict[str, str]) -> Iterator[str]:
    """Run ``flyte-celery console --port 0`` with ``env``; yields its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "console", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        assert found, f"the console did not start: {line}"
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()
