"""The Prometheus endpoint on a real stack: `celery worker`, `celery beat` and
`flyte-celery metrics` processes sharing PROMETHEUS_MULTIPROC_DIR, scraped over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from plugins.core import Phase
from tests.helpers import free_port, wait_for
from tests.integration.jobservice import Ledger
from tests.integration.stack import ROOT, Stack, wait_all
from tests.integration.templates import seconds
from tests.integration.templates import timed_template as template

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def readme_metrics() -> set[str]:
    """The metric families docs/metrics.md names (without ``_total``)."""
    text = (ROOT / "docs" / "metrics.md").read_text()
    return {name.removesuffix("_total") for name in re.findall(r"flyte_celery_\w+", text)}


def families(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return {family.name for family in text_string_to_metric_families(response.read().decode())}


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


@pytest.fixture
def metered(fresh_stack: Stack, tmp_path: Path) -> tuple[Stack, str]:
    """A worker, beat and the metrics endpoint, all writing to one multiprocess directory."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    fresh_stack.extra_env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    env = fresh_stack.env
    fresh_stack.start_worker("w1")
    fresh_stack.start_beat("beat")
    port = free_port()
    log = fresh_stack.log("metrics").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "metrics", f"--port={port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    fresh_stack.processes["metrics"] = process
    fresh_stack.wait_log("metrics", f"http://127.0.0.1:{port}/metrics")
    return fresh_stack, f"http://127.0.0.1:{port}/metrics"  # fresh_stack stops them all


def test_the_endpoint_reports_the_deployment_and_every_process(
    metered: tuple[Stack, str], ledger: Ledger
) -> None:
    stack, url = metered
    client = stack.client()
    held = client.submit(template("http_job"), seconds(60), project="held")
    wait_for(lambda: held.refresh().phase is Phase.RUNNING, timeout=60)
    # Quota 2, one slot taken for a minute: three more queue for the other slot.
    quick = [client.submit(template("http_job"), seconds(0.2)) for _ in range(3)]
    flaky = client.submit(template("flaky_create"), seconds(0))  # its Create raises
    limited = [client.submit(template("http_job_limited"), seconds(0)) for _ in range(8)]
    first = client.submit(template("echo", cached=True), seconds(1))
    wait_all([*quick, flaky, *limited, first], timeout=120)
    second = client.submit(template("echo", cached=True), seconds(1))
    assert second.wait(60) is Phase.SUCCESS and second.cache_status is not None

    samples = scrape(url)
    assert value(samples, "flyte_celery_redis_up") == 1
    # From Redis: executions by phase, counted once for the deployment.
    finished = "flyte_celery_executions_finished_total"
    assert value(samples, finished, task_type="http_job", phase="SUCCESS") == 3
    assert value(samples, finished, task_type="http_job_limited", phase="SUCCESS") == 8
    failed = flaky.refresh().phase
    assert failed.is_terminal() and failed is not Phase.SUCCESS
    assert value(samples, finished, task_type="flaky_create", phase=failed.name) == 1
    assert value(samples, "flyte_celery_executions", task_type="http_job", phase="RUNNING") == 1
    assert value(samples, "flyte_celery_executions", phase="QUEUED") == 0
    # The quota namespace of http-job: one token held now, grants and at least one denial.
    assert value(samples, "flyte_celery_resource_tokens_held") == 1
    assert value(samples, "flyte_celery_allocation_grant_success_total") == 4
    assert value(samples, "flyte_celery_allocation_grant_failed_total") >= 1
    assert value(samples, "flyte_celery_resource_release_success_total") == 3
    assert value(samples, "flyte_celery_scheduler_lease_held") == 1
    assert value(samples, "flyte_celery_steps_in_flight") == 0
    # From the worker's pool processes, through the multiprocess directory.
    success = "flyte_celery_plugin_requests_success_total"
    assert value(samples, success, plugin="http-job", operation="create") == 4
    assert value(samples, success, plugin="http-job", operation="get") >= 4
    assert value(samples, success, plugin="echo", operation="do") == 1
    failure = "flyte_celery_plugin_requests_failure_total"
    assert value(samples, failure, plugin="flaky-create", operation="create") == 1
    latency = "flyte_celery_plugin_request_latency_seconds_count"
    assert value(samples, latency, plugin="http-job", operation="create") == 4
    wait = "flyte_celery_rate_limiter_wait_seconds_count"
    assert value(samples, wait, limiter="http-job-limited/write") >= 1
    # From beat: ticks, leadership, cache lookups, quota waits.
    assert value(samples, "flyte_celery_tick_duration_seconds_count") > 0
    assert value(samples, "flyte_celery_scheduler_leader") == 1
    assert value(samples, "flyte_celery_cache_misses_total", task_type="echo") == 1
    assert value(samples, "flyte_celery_cache_hits_total", task_type="echo") == 1
    assert value(samples, "flyte_celery_resource_wait_time_seconds_count") == 4
    # Every metric docs/metrics.md names is served.
    assert readme_metrics() - families(url) == set()
    client.abort(held.id, "done with it")
    assert held.wait(60) is Phase.ABORTED
    wait_for(
        lambda: value(scrape(url), "flyte_celery_executions", phase="RUNNING") == 0, timeout=30
    )


def present(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= found for (n, found) in samples)


def test_every_series_exists_at_zero_from_start_up(metered: tuple[Stack, str]) -> None:
    # Nothing submitted: each plugin's calls, limiters, cache lookups and quota waits are
    # there at 0 all the same, so a dashboard reads 0 and not "No data".
    _, url = metered
    failure = "flyte_celery_plugin_requests_failure_total"
    latency = "flyte_celery_plugin_request_latency_seconds_count"
    expected = [
        ("flyte_celery_plugin_requests_success_total", {"plugin": "echo", "operation": "do"}),
        (failure, {"plugin": "http-job", "operation": "create"}),
        (failure, {"plugin": "http-job", "operation": "get"}),
        (latency, {"plugin": "echo", "operation": "do"}),
        ("flyte_celery_plugin_calls_running", {"plugin": "http-job"}),
        ("flyte_celery_rate_limiter_wait_seconds_count", {"limiter": "http-job/read"}),
        ("flyte_celery_rate_limiter_wait_seconds_count", {"limiter": "echo/write"}),
        ("flyte_celery_cache_hits_total", {"task_type": "echo"}),
        ("flyte_celery_cache_misses_total", {"task_type": "http_job"}),
        ("flyte_celery_resource_wait_time_seconds_count", {"namespace": "http-job:default"}),
    ]
    wait_for(lambda: all(present(scrape(url), n, **labels) for n, labels in expected), timeout=60)
    samples = scrape(url)
    for name, labels in expected:
        assert value(samples, name, **labels) == 0, (name, labels)
    # A connector service with no deployment configured holds no quota namespace.
    namespaces = {v for (_, found) in samples for k, v in found if k == "namespace"}
    assert namespaces and not [n for n in namespaces if n.startswith("connector-service:")]


def test_each_container_serves_its_own_processes_metrics(
    fresh_stack: Stack, tmp_path: Path
) -> None:
    # As in docker-compose: a directory of its own per container (pids repeat across
    # containers), not made in advance, and FLYTE_CELERY_METRICS_PORT on worker and beat.
    ports = {"w1": free_port(), "beat": free_port()}

    def own(name: str) -> dict[str, str]:
        return {
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"{name}-prometheus"),
            "FLYTE_CELERY_METRICS_PORT": str(ports[name]),
        }

    fresh_stack.start_worker("w1", env=own("w1"))
    fresh_stack.extra_env.update(own("beat"))
    fresh_stack.start_beat("beat")
    for name, port in ports.items():
        fresh_stack.wait_log(name, f"this process's metrics on http://127.0.0.1:{port}/metrics")
    client = fresh_stack.client()
    done = [client.submit(template("echo"), seconds(0.1)) for _ in range(3)]
    wait_all(done, timeout=120)

    worker = f"http://127.0.0.1:{ports['w1']}/metrics"
    beat = f"http://127.0.0.1:{ports['beat']}/metrics"
    # The pool children's calls, summed in the worker's own directory.
    success = "flyte_celery_plugin_requests_success_total"
    wait_for(lambda: value(scrape(worker), success, plugin="echo", operation="do") == 3)
    assert value(scrape(worker), "flyte_celery_tick_duration_seconds_count") == 0
    assert value(scrape(beat), "flyte_celery_tick_duration_seconds_count") > 0
    assert value(scrape(beat), "flyte_celery_scheduler_leader") == 1
    assert value(scrape(beat), success) == 0
    # The deployment's state is the metrics command's alone: not repeated per container.
    for url in (worker, beat):
        assert "flyte_celery_executions" not in families(url)
