"""Process privileges on Linux: what keeps a task's process away from its worker's secrets.

Two kernel rules do the work. A *non-dumpable* process (``prctl(PR_SET_DUMPABLE, 0)``)
has its ``/proc/<pid>/environ`` and ``mem`` closed to every process without
``CAP_SYS_PTRACE``, even of the same user; the worker marks itself so. And the
task's process starts with *no new privileges* and, when it runs as root, with
every capability dropped (bounding set included), so neither it nor a program it
starts can get ``CAP_SYS_PTRACE`` back. Elsewhere than Linux both calls do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path

__all__ = ["die_with_parent", "drop_privileges", "protect_process", "unprotect_process"]

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522
_MAX_CAPABILITY = 63


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def protect_process() -> bool:
    """Make this process's environment and memory unreadable to other processes.

    Returns:
        Whether it took effect (``False`` off Linux).
    """
    libc = _libc()
    return libc is not None and libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def unprotect_process() -> None:
    """Make this process dumpable again, as every freshly started process is.

    A process forked by a protected one (the task launcher) inherits its protection.
    """
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)


def die_with_parent(signal_number: int) -> bool:
    """Have the kernel send ``signal_number`` to this process when its parent ends.

    Returns:
        Whether it took effect (``False`` off Linux).
    """
    libc = _libc()
    return libc is not None and libc.prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0) == 0


def _effective_capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def drop_privileges() -> None:
    """No new privileges for this process, and no capabilities left if it is root.

    Raises:
        PermissionError: Capabilities remain after dropping them (the task must not run).
    """
    libc = _libc()
    if libc is None:
        return
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if _effective_capabilities() == 0:
        return
    for capability in range(_MAX_CAPABILITY + 1):
        libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)  # unknown ones fail harmlessly
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    libc.capset(ctypes.byref(header), data)
    if _effective_capabilities() != 0:
        raise PermissionError("could not drop the task process's capabilities")
