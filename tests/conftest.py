"""Shared fixtures: real storage backends and hypothesis profiles."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import fsspec
import pytest
from hypothesis import HealthCheck, settings

from plugins.io import DataStore

# Machines here are noisy: never fail a property on timing. CI gets more examples.
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(params=["file", "memory"])
def store_root(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A fresh, empty storage root on a real fsspec backend (local disk or in-memory)."""
    if request.param == "file":
        yield f"file://{tmp_path}"
        return
    root = f"memory://test-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    path = root.removeprefix("memory://")
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture
def store() -> DataStore:
    """A DataStore with a small download limit, so size checks are easy to hit."""
    return DataStore(max_download_bytes=64 * 1024)
