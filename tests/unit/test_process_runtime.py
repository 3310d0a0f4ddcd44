"""One Runtime per process: built once, shared by its parts, built again after a fork."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: forking the test session, whose other tests leave threads
# behind, would warn that a fork of a threaded process may deadlock.
SCRIPT = """
import os
from scheduler._runtime import process_runtime
from scheduler.settings import Settings

settings = Settings(redis_url="redis://127.0.0.1:1/0", storage="memory://process-runtime")
first = process_runtime(settings)
assert process_runtime() is first and process_runtime(settings) is first
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, b"new" if process_runtime() is not first else b"same")
    os._exit(0)
os.close(write)
os.waitpid(pid, 0)
with os.fdopen(read, "rb") as answer:
    child = answer.read().decode()
print(child, "same" if process_runtime() is first else "new")
"""


def test_a_process_builds_its_runtime_once_and_a_forked_child_its_own() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # The child built its own (its parent's connections and threads are not its own); the
    # parent still has the one it built.
    assert done.stdout.split() == ["new", "same"]
