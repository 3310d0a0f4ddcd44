"""``python -m plugins.builtin.exec_child -- ENTRYPOINT ARGS...``: flytekit's entrypoint, spawned.

A fresh process for one flytekit task (``FLYTE_CELERY_TASK_LAUNCHER=spawn``): it drops its
privileges (no new privileges; under root, no capabilities: see ``privileges``), reads
user code from its source (see :mod:`plugins.tasks.sources`), and runs the entrypoint
(``pyflyte-execute``...) in itself, as its console script would (see ``flytekit_entry``).
If its worker dies, it notices within a second and ends, with the processes it started.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading

from plugins.builtin.privileges import drop_privileges
from plugins.builtin.task_child import watch_parent
from plugins.tasks.sources import read_user_code_fresh

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the entrypoint after ``--``; its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("exec_child: no entrypoint given", file=sys.stderr)
        return 2
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        drop_privileges()
    except PermissionError as exc:
        print(f"exec_child: {exc}", file=sys.stderr)
        return 126
    # The import path of the entrypoint's console script: its folder first, not this one's.
    script = shutil.which(args[0]) or sys.executable
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    sys.argv = [script, *args[1:]]
    read_user_code_fresh()
    from plugins.builtin import flytekit_entry  # noqa: PLC0415 - flytekit is optional

    return flytekit_entry.run(args, imported_before=False)


if __name__ == "__main__":
    sys.exit(main())
