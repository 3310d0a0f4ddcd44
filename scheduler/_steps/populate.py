"""The worker's part of the result cache: populate the entry of a succeeded attempt.

A worker that commits a cached task's outputs writes them to the cache before it
writes SUCCESS, so an execution waiting on ``cache_serialize`` that sees its owner
finished finds the entry.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flyteidl.core import literals_pb2

from scheduler._model import CacheStatus, ExecutionRecord
from scheduler._runtime import Runtime

__all__ = ["populate"]

log = logging.getLogger(__name__)


def populate(runtime: Runtime, record: ExecutionRecord, now: datetime) -> CacheStatus | None:
    """Write a succeeded attempt's committed outputs to the cache.

    Returns:
        POPULATED, PUT_FAILURE, or ``None`` when the task is not cached.
    """
    if record.cache_key is None:
        return None
    try:
        reader = runtime.contexts.output_reader(record)
        literals = literals_pb2.LiteralMap()
        if reader.exists():
            read, err = reader.read()
            if err is not None:
                raise RuntimeError(f"the attempt wrote an error: {err.message}")
            literals = read or literals
        runtime.cache.put(record.cache_key, literals, record.id, now)
    except Exception as exc:
        # A failed put must not fail a task that succeeded: it just stays uncached.
        log.warning("%s: writing the cache entry failed: %s", record.id, exc)
        return CacheStatus.PUT_FAILURE
    return CacheStatus.POPULATED
