"""What the benchmarks' deployments share: production timings instead of the tests' short ones."""

from __future__ import annotations

from scheduler import Settings


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
