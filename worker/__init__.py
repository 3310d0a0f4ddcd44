"""flyte-celery's Celery app and the jobs that run plugin calls (``celery -A worker ...``)."""

from __future__ import annotations

from worker.app import app

__all__ = ["app"]
