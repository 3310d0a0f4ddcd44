"""flyte-celery's control plane.

Settings, the Redis execution store, quotas, rate limiters, the phase state
machine, the beat scheduler, the submission client and the CLI.

Imports flow one way: ``worker`` → ``scheduler`` → ``plugins``.
"""

from __future__ import annotations

__all__: list[str] = []
