"""``python -m plugins.builtin.exec_child -- PROGRAM ARGS...``: run a program without privileges.

The launcher of flytekit's entrypoint: it drops this process's privileges (no new
privileges; under root, no capabilities: see ``privileges``) and then replaces itself
with the program, so the program, and whatever it starts, cannot read its worker's
process either.
"""

from __future__ import annotations

import os
import sys

from plugins.builtin.privileges import drop_privileges

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Drop privileges and exec the program after ``--``; returns only on failure."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("exec_child: no program given", file=sys.stderr)
        return 2
    try:
        drop_privileges()
        os.execvp(args[0], args)
    except OSError as exc:
        print(f"exec_child: cannot run {args[0]}: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
