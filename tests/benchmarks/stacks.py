"""What the benchmarks' deployments share: production timings, a CPU window, the drain."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from plugins.core import Phase
from scheduler import Client, Execution, Settings
from tests.benchmarks.measure import CpuWindow
from tests.helpers import RedisServer, wait_for
from tests.integration.stack import Stack


def production_timings() -> dict[str, object]:
    """Production's leases and visibility timeout, as ``Stack`` overrides.

    The stack's defaults are the fault tests': a 5 s visibility timeout would publish
    again every job still queued behind thousands of others.
    """
    defaults = Settings()
    return {
        name: getattr(defaults, name)
        for name in ("visibility_timeout", "run_lease", "leader_lease", "token_lease")
    }


def cpu_window(
    stack: Stack, redis_server: RedisServer, more: Mapping[str, int] | None = None
) -> CpuWindow:
    """A CPU window over the beat, the worker ``w1`` and its pool, Redis, and ``more``."""
    return CpuWindow(
        {
            "beat": stack.processes["beat"].pid,
            "worker*": stack.processes["w1"].pid,
            "redis": redis_server.process.pid,
            **(more or {}),
        }
    )


def drained_after(api: Client, executions: Sequence[Execution], n: int) -> float:
    """Seconds until the last executions, then all ``n``, are SUCCESS (after a release)."""
    start = time.perf_counter()
    wait_for(
        lambda: all(ex.refresh().phase is Phase.SUCCESS for ex in executions[-50:]),
        timeout=3600,
        interval=1,
    )
    wait_for(lambda: len(api.list(phase=Phase.SUCCESS, limit=n + 1)) >= n, timeout=3600, interval=2)
    return time.perf_counter() - start
