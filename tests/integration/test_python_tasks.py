"""@task functions on real `celery worker` and `celery beat` processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugins.core import Phase
from plugins.errors import ExecutionFailedError
from scheduler.cli.views import execution_row
from tests.integration.conftest import BROKERS
from tests.integration.stack import Stack
from tests.tasks import sample

# Every flow runs on both brokers: Redis (the default) and RabbitMQ.
pytestmark = pytest.mark.parametrize("broker", BROKERS, indirect=True, scope="module")


def test_python_tasks_succeed(stack: Stack) -> None:
    with stack.client() as client:
        total = client.submit(sample.add, {"a": 1, "b": 41})
        stats = client.submit(sample.summarize, {"values": [1.0, 2.0, 6.0]})
        pair = client.submit(
            sample.pair, {"p": sample.Point(x=1, y=0.5, label="q"), "color": sample.Color.RED}
        )
        assert total.result(timeout=120) == 42
        assert stats.result(timeout=120) == sample.Stats(total=9, mean=3.0)
        assert pair.result(timeout=120) == ("red:q", sample.Point(x=2, y=1.0, label="q"))


def test_a_raised_exception_shows_its_message_and_traceback(stack: Stack) -> None:
    with stack.client() as client:
        ex = client.submit(sample.explode, {"message": "remote kaboom"})
        with pytest.raises(ExecutionFailedError) as caught:
            ex.result(timeout=120)
    err = caught.value
    assert (err.code, err.kind, err.phase) == ("USER:ValueError", "USER", "PERMANENT_FAILURE")
    assert "remote kaboom" in err.message
    assert "Traceback (most recent call last)" in err.message
    assert "raise ValueError(message)" in err.message
    assert stack.alive() == dict.fromkeys(stack.alive(), True)  # the workers survived
    # The execution carries the task's name, lists by it, and sums its error up as what
    # the task raised, not as the wrapper's first line.
    assert ex.refresh().task_name == "tests.tasks.sample.explode"
    with stack.client() as client:
        named = client.list(task_name="tests.tasks.sample.explode", limit=500)
        assert ex.id in [found.id for found in named]
        assert ex.id not in [found.id for found in client.list(task_name="tests.tasks.sample.add")]
        shown = execution_row(client.get(ex.id), client.runtime.clock())
    assert shown[1] == "tests.tasks.sample.explode"
    assert shown[-1] == "ValueError: remote kaboom"


def test_submitting_a_task_leaves_the_users_script_alone(stack: Stack) -> None:
    # The workers serve python-task: the script that submits loads no plugin of its own,
    # so it imports no flytekit (seconds of imports, a temporary folder) and keeps its
    # own traceback hook (flytekit installs rich's as it is imported).
    script = (
        "import json, sys\n"
        "from scheduler import Client\n"
        "from tests.tasks import sample\n"
        "hook = sys.excepthook\n"
        "with Client.from_settings() as client:\n"
        "    assert client.submit(sample.add, {'a': 1}).result(timeout=120) == 3\n"
        "print(json.dumps(['flytekit' in sys.modules, sys.excepthook is hook]))\n"
    )
    done = stack.run_python(script)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True]


def test_a_task_cannot_read_the_workers_credentials(stack: Stack) -> None:
    # Neither its own environment nor any other process's (the worker's, beat's) holds
    # the Redis or broker URL: workers are non-dumpable, so /proc/<pid>/environ is closed.
    urls = [u for u in (stack.settings.redis_url, stack.settings.broker_url) if u]
    with stack.client() as client:
        own = client.submit(sample.environment, {}).result(timeout=120)
        others = client.submit(sample.readable_environments, {}).result(timeout=120)
    assert "PATH" in own
    for url in urls:
        assert url not in repr(own)
        assert not [env for env in others if url in env]
    # The probe reads what it may: the environment of a process it started itself.
    assert [env for env in others if "PROBE_CONTROL=visible" in env]


def test_retries_happen(stack: Stack) -> None:
    with stack.client() as client:
        ex = client.submit(sample.flaky, {"succeed_on": 2})
        assert ex.result(timeout=120) == 2
        attempts = sorted({e.attempt for e in ex.events()})
    assert attempts == [0, 1, 2]


def test_a_timeout_happens(stack: Stack) -> None:
    with stack.client() as client:
        ex = client.submit(sample.overslept, {"seconds": 8.0})
        with pytest.raises(ExecutionFailedError, match="timed out after 1s"):
            ex.result(timeout=120)
        assert ex.phase is Phase.PERMANENT_FAILURE


def test_a_cache_miss_then_a_hit_then_an_overwrite(stack: Stack, tmp_path: Path) -> None:
    ledger = tmp_path / "calls.txt"
    inputs = {"ledger": str(ledger), "x": 21}
    with stack.client() as client:
        first = client.submit(sample.counted, inputs)
        assert first.result(timeout=120) == 42
        hit = client.submit(sample.counted, inputs)
        assert hit.result(timeout=120) == 42
        forced = client.submit(sample.counted, inputs, overwrite_cache=True)
        assert forced.result(timeout=120) == 42
        statuses = [
            [e.cache_status for e in ex.events() if e.cache_status] for ex in (first, hit, forced)
        ]
    assert statuses == [["MISS", "POPULATED"], ["HIT"], ["MISS", "POPULATED"]]
    assert len(ledger.read_text().splitlines()) == 2  # the hit called nothing


def test_cache_serialize_calls_the_function_once(stack: Stack, tmp_path: Path) -> None:
    ledger = tmp_path / "calls.txt"
    inputs = {"ledger": str(ledger), "x": 5}
    with stack.client() as client:
        executions = [client.submit(sample.counted, inputs) for _ in range(5)]
        assert [ex.result(timeout=120) for ex in executions] == [10] * 5
        statuses = sorted(
            tuple(e.cache_status for e in ex.events() if e.cache_status) for ex in executions
        )
    assert len(ledger.read_text().splitlines()) == 1
    assert statuses == [("HIT",)] * 4 + [("MISS", "POPULATED")]


def test_a_file_output_can_be_read_back(stack: Stack) -> None:
    with stack.client() as client:
        made = client.submit(sample.write_file, {"text": "written by a worker"})
        f = made.result(timeout=120)
        with f.open("rb") as fh:
            assert fh.read() == b"written by a worker"
        echoed = client.submit(sample.read_file, {"f": f})
        assert echoed.result(timeout=120) == "written by a worker"
