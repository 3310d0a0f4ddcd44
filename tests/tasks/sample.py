"""Module-level tasks used by the task tests (a worker must be able to import them)."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from flyteidl.core import literals_pb2, types_pb2

from plugins.tasks import Directory, File, IgnoreOutputs, Secret, current_context, task
from plugins.tasks.context import ExecutionParameters
from plugins.tasks.function import PythonFunctionTask


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Point:
    x: int
    y: float
    label: str = ""


class Stats(NamedTuple):
    total: int
    mean: float


@task
def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


@task(
    retries=3,
    timeout=timedelta(minutes=5),
    cache=True,
    cache_version="1.0",
    cache_serialize=True,
    cache_ignore_input_vars=("note",),
    interruptible=True,
)
def summarize(values: list[float], note: str = "") -> Stats:
    return Stats(total=int(sum(values)), mean=sum(values) / len(values) if values else 0.0)


@task
def pair(p: Point, color: Color) -> tuple[str, Point]:
    return f"{color.value}:{p.label}", Point(x=p.x + 1, y=p.y * 2, label=p.label)


@task
def nothing(flag: bool) -> None:
    if flag:
        raise IgnoreOutputs()


@task
def explode(message: str) -> int:
    raise ValueError(message)


@task
def write_file(text: str) -> File:
    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return File(path)


@task
def read_file(f: File) -> str:
    with open(f, encoding="utf-8") as fh:
        return fh.read()


@task(deprecated="use add instead")
def old_add(a: int) -> int:
    return a + 1


@task
def whoami() -> str:
    ctx = current_context()
    return f"{ctx.execution_id}:{ctx.attempt}:{os.environ.get('SAMPLE_ENV', '')}"


@task(environment={"SAMPLE_ENV": "set"})
def with_env() -> str:
    return os.environ.get("SAMPLE_ENV", "")


@task(retries=3)
def flaky(succeed_on: int) -> int:
    attempt = current_context().attempt
    if attempt < succeed_on:
        raise RuntimeError(f"attempt {attempt} fails")
    return attempt


@task(timeout=1)
def overslept(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task(cache=True, cache_version="1", cache_serialize=True)
def counted(ledger: str, x: int) -> int:
    """Appends a line to ``ledger`` per call, so tests count real calls."""
    with open(ledger, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    return 2 * x


@task
def exits(code: int) -> int:
    raise SystemExit(code)


@task(secret_requests=[Secret(group="test", key="token")])
def leaky() -> None:
    """Fails quoting its secret, as careless code does."""
    raise RuntimeError(f"could not log in with token {current_context().secrets.get('test/token')}")


@task
def environment() -> dict[str, str]:
    """The environment the function runs with."""
    return dict(os.environ)


@task
def readable_environments() -> list[str]:
    """The environment of every other process whose /proc entry this task can read.

    A process it starts itself is among them, which shows the probe works.
    """
    control = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], env={"PROBE_CONTROL": "visible"}
    )
    found = []
    try:
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    with open(f"/proc/{entry}/environ", "rb") as fh:
                        found.append(fh.read().decode("utf-8", "replace"))
                except OSError:
                    continue
    finally:
        control.kill()
        control.wait()
    return found


@task(secret_requests=[Secret(group="db", key="password")])
def declared_secret() -> str:
    return current_context().secrets.get("db/password")


@task
def undeclared_secret() -> str:
    return current_context().secrets.get("db/password")


@task
def dies(code: int) -> int:
    print("about to die", flush=True)
    os._exit(code)


@task
def list_folder(text: str) -> Directory:
    folder = tempfile.mkdtemp()
    for name in ("a.txt", "b.txt"):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    return Directory(folder)


@task
def count_files(d: Directory) -> int:
    return len(os.listdir(d))


@task
def whoami_user() -> int:
    return os.geteuid()


@task
def nap(seconds: float) -> float:
    """Takes a while, so a worker can be killed in the middle of it."""
    time.sleep(seconds)
    return seconds


def _hold(marker: str) -> int:
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(str(os.getpid()))
    time.sleep(600)
    return 0


@task
def hold(marker: str) -> int:
    """Writes its process id to ``marker``, then runs for ten minutes."""
    return _hold(marker)


@task(timeout=2)
def hold_past_timeout(marker: str) -> int:
    """Like hold, with a two-second timeout."""
    return _hold(marker)


@task
def hold_once(marker: str) -> int:
    """Holds as hold does on its first call; returns 1 at once when ``marker`` exists."""
    if os.path.exists(marker):
        return 1
    return _hold(marker)


def start_helper_and_hold(marker: str) -> int:
    """Starts a helper process in its group, writes both ids to ``marker``, then holds."""
    helper = subprocess.Popen(["sleep", "600"])
    with open(marker + ".partial", "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()} {helper.pid}")
    os.replace(marker + ".partial", marker)
    time.sleep(600)
    return 0


@task
def hold_with_helper(marker: str) -> int:
    """See :func:`start_helper_and_hold`."""
    return start_helper_and_hold(marker)


@task
def lineage() -> dict[str, int]:
    """This process's id, its parent's, its group's and its session's."""
    return {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "sid": os.getsid(0)}


@task
def user_modules() -> list[str]:
    """The modules loaded from outside installed packages and the project's own packages."""
    from plugins.tasks.sources import installed_roots, is_installed

    roots = installed_roots()
    project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    own = tuple(os.path.join(project, p) + os.sep for p in ("plugins", "scheduler", "worker"))
    found = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and not is_installed(file, roots) and not os.path.abspath(file).startswith(own):
            found.append(name)
    return sorted(found)


@task
def inspection() -> dict[str, bool]:
    """What this process may read of its parent and siblings, and what its own child may."""

    def readable(path: str) -> bool:
        try:  # the kernel checks at open() whether this process may trace the owner
            with open(path, "rb"):
                return True
        except OSError:
            return False

    def siblings() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                        parent = int(fh.read().rpartition(")")[2].split()[1])
                except (OSError, ValueError):
                    continue
                if parent == os.getppid():
                    found.append(int(entry))
        return found

    deadline = time.monotonic() + 30
    while not siblings() and time.monotonic() < deadline:
        time.sleep(0.05)  # a launcher forks the next run's process just after this one
    child = subprocess.run(
        [sys.executable, "-c", f"open('/proc/{os.getpid()}/environ','rb').read(1)"],
        capture_output=True,
        check=False,
    )
    return {
        "parent_environ": readable(f"/proc/{os.getppid()}/environ"),
        "parent_mem": readable(f"/proc/{os.getppid()}/mem"),
        "siblings": bool(siblings()),
        "sibling_mem": any(readable(f"/proc/{pid}/mem") for pid in siblings()),
        "own_environ_by_its_child": child.returncode == 0,
    }


@task
def warm_up_traces() -> list[str]:
    """What a task process can find of the launcher's warm-up: modules, paths, finders."""
    found = [name for name in sys.modules if "warm_up" in name]
    found += [p for p in sys.path if "warm-up" in p]
    found += [p for p in sys.path_importer_cache if "warm-up" in p]
    found += [k for k in os.environ if "WARM" in k]
    return found


class _HandMadeOutputs(PythonFunctionTask):
    """A task that writes its output literal itself, as any task author may."""

    def dispatch_execute(
        self, ctx: ExecutionParameters, input_literal_map: literals_pb2.LiteralMap
    ) -> literals_pb2.LiteralMap:
        values = {k: v.scalar.primitive for k, v in input_literal_map.literals.items()}
        target, folder = values["target"].string_value, values["folder"].boolean
        raw = Path(os.environ["TMPDIR"]).parent / "raw"
        if folder:
            (raw / "out").mkdir(parents=True)
            (raw / "out" / "leak").symlink_to(target)
        else:
            (raw / "out").symlink_to(target)
        outputs = literals_pb2.LiteralMap()
        blob = outputs.literals["o0"].scalar.blob
        blob.uri = f"file://{raw / 'out'}"
        blob.metadata.type.dimensionality = types_pb2.BlobType.BlobDimensionality.MULTIPART
        return outputs


def link_out(target: str, folder: bool) -> Directory:
    """Its output is a link (in a folder, or as the folder) to ``target``."""
    raise NotImplementedError  # dispatch_execute does the work


link_out = _HandMadeOutputs(None, link_out)  # type: ignore[assignment]
