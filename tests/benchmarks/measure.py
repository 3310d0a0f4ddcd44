"""What the scale benchmarks read off processes: memory and CPU from /proc, Redis command costs."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import redis

_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(proc.name))
    return found


def rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its children (a prefork worker's pool), in MB."""
    total = 0
    for member in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid`` so far (its threads included), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


class CpuWindow:
    """CPU used by named processes (and a worker's pool children) between two readings.

    Args:
        processes: Name -> pid; a name ending in ``*`` also counts the pid's children,
            each under ``<name> child``.
    """

    def __init__(self, processes: Mapping[str, int]) -> None:
        self._pids: dict[str, int] = {}
        for name, pid in processes.items():
            if name.endswith("*"):
                base = name[:-1]
                self._pids[base] = pid
                for number, child in enumerate(sorted(_children(pid)), 1):
                    self._pids[f"{base} child {number}"] = child
            else:
                self._pids[name] = pid
        self._start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}

    def cores(self, seconds: float) -> dict[str, float]:
        """The cores each process used on average since the window opened."""
        return {
            name: (cpu_seconds(pid) - self._start[name]) / seconds
            for name, pid in self._pids.items()
        }


def cores_line(cores: Mapping[str, float]) -> str:
    """``total 1.52 cores: w1 child 1 0.61, w1 child 2 0.60, beat 0.05...``, biggest first."""
    parts = ", ".join(f"{name} {value:.2f}" for name, value in sorted(cores.items(), key=_by_use))
    return f"total {sum(cores.values()):.2f} cores: {parts}"


def _by_use(item: tuple[str, float]) -> float:
    return -item[1]


def command_usec(ports: Iterable[int]) -> Counter[str]:
    """Microseconds each command (a script counts as ``evalsha``) took so far, summed over nodes.

    From ``INFO commandstats``; a script's commands count inside it and again under their
    own names, so compare scripts with scripts and commands with commands.
    """
    spent: Counter[str] = Counter()
    for port in ports:
        with redis.Redis(port=port) as node:
            try:
                stats = node.info("commandstats")
            except redis.RedisError:
                continue  # a node that died (a failover test) adds nothing
        for name, fields in stats.items():
            spent[name.removeprefix("cmdstat_")] += int(fields["usec"])
    return spent


def commands_line(before: Counter[str], after: Counter[str], per: float, top: int = 8) -> str:
    """The commands that cost most between two :func:`command_usec` readings, µs per ``per``."""
    spent = after - before
    shown = ", ".join(f"{name} {usec / per:.1f}" for name, usec in spent.most_common(top))
    return f"{sum(spent.values()) / per:.1f} us in all: {shown}"
