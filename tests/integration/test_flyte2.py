"""Flyte 2's connectors in a real worker, loaded through FLYTE_CELERY_CONNECTOR_MODULES."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.core import Phase
from tests.flyte2 import jobs
from tests.helpers import RedisServer, wait_for
from tests.integration.stack import Stack


@pytest.fixture
def flyte2_stack(redis_server: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(redis_server.url, tmp_path, "http://127.0.0.1:9")
    try:
        env = {"FLYTE_CELERY_CONNECTOR_MODULES": "tests.flyte2.jobs", jobs.SECRET_ENV: "sesame"}
        stack.start_worker("w1", env=env)
        stack.start_beat("beat")
        yield stack
    finally:
        stack.stop()


def test_a_flyte2_connector_runs_and_aborts_in_a_worker(
    flyte2_stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    with flyte2_stack.client() as client:
        done = client.submit(jobs.template(folder, polls=2), {"x": jobs.integer(21)})
        held = client.submit(jobs.template(folder, polls=10_000), {"x": jobs.integer(1)})
        assert done.result(timeout=120) == 42
        wait_for(lambda: held.refresh().phase is Phase.RUNNING, timeout=120, what="RUNNING")
        held.abort("enough")
        assert held.wait(120) is Phase.ABORTED
    states = sorted(json.loads(p.read_text())["state"] for p in folder.iterdir())
    assert states == ["DELETED", "SUCCEEDED"]
