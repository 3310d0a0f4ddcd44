"""The Celery app: ``celery -A worker worker|beat|flower``.

Celery with Redis delivers at least once, so every setting favours redelivery
over loss: JSON only; late acks, with requeue when a pool child dies; prefetch
1; one visibility timeout set in every place Celery reads it (a message
unacknowledged for longer is delivered again); task events on for Flower;
results ignored, because the execution store is the truth. Queues are
partitioned by plugin and quota namespace; a worker consumes all of them unless
started with ``-Q``.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_process_init, worker_process_shutdown, worker_ready
from kombu.entity import Queue

from plugins.builtin import TaskIsolation
from plugins.builtin.launcher_client import warm_up
from plugins.builtin.privileges import protect_process
from plugins.builtin.python_task import task_isolation
from plugins.errors import ConfigError
from scheduler._runtime import process_runtime
from scheduler.metrics import process_ended, serve_process_metrics
from scheduler.settings import Settings
from worker.broker import OutageLog, guard_lost_connection, treat_refused_writes_as_outage
from worker.served import install as publish_served_types

__all__ = ["app", "make_app"]

log = logging.getLogger(__name__)


def _queue(name: str) -> Queue:
    return Queue(name)  # type: ignore[no-untyped-call]


def make_app(settings: Settings) -> Celery:
    """Build the Celery app for ``settings``."""
    visibility = settings.visibility_timeout.total_seconds()
    transport: dict[str, Any] = {
        "visibility_timeout": visibility,
        # kombu >= 5.7: restore unacknowledged jobs of dead workers promptly.
        "unacked_restore_interval": max(1.0, min(60.0, visibility / 4)),
    }
    if settings.broker.startswith(("redis://", "rediss://", "unix://")):
        # The broker's connections have the timeouts of every other Redis client: a
        # stalled Redis is an outage (reconnect) after them, never a process blocked.
        transport.update(settings.redis_options())
    # worker.broker:AMQP: reconnect to a lost broker within about a second.
    celery = Celery(
        "flyte_celery", broker=settings.broker, include=["worker.jobs"], amqp="worker.broker:AMQP"
    )
    celery.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        visibility_timeout=visibility,
        task_ignore_result=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        broker_connection_retry_on_startup=True,
        # Retry a lost broker forever (Celery gives up after 100 attempts, and exits):
        # with attempts about a second apart that would be a 2-minute outage.
        broker_connection_max_retries=None,
        # A job running when the broker connection is lost runs on: its claims and run
        # leases keep a redelivery from running it twice, and its answers are written
        # back. Cancelling it (Celery 6's default) would kill a Create mid-call, and
        # send it again.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_default_queue=settings.queue_prefix,
        task_queues=[_queue(settings.queue_prefix)]
        + [_queue(q) for q in process_runtime(settings).queues.all()],
        beat_scheduler="scheduler._engine.beat:EngineScheduler",
        worker_hijack_root_logger=False,
    )
    return celery


def _protect() -> None:
    # Task runs are processes of the worker's OS user; a non-dumpable worker (and beat,
    # and Flower: all import this module) keeps its environment, with the Redis URL and
    # storage keys, out of their reach through /proc.
    try:
        isolated = task_isolation() is TaskIsolation.PROCESS
    except ConfigError:
        isolated = True  # python-task reports the bad value; be safe meanwhile
    if isolated:
        protect_process()


FLOWER_COLUMNS = "name,uuid,state,args,exception,received,runtime,worker"
"""Flower's task list as `celery -A worker flower` shows it: with the arguments (the
execution ids each job serves) and a failed job's exception. FLOWER_TASKS_COLUMNS, if set,
wins."""


def _metrics_end(**_: object) -> None:
    process_ended()  # a pool process's live gauges leave the sums with it


_GC_YOUNG_THRESHOLD = 50_000
"""Allocations (less deallocations) between two collections of the youngest generation.

Python's default, 700, suits small programs. A Get allocates some hundreds of objects
(its record, its context, its PhaseInfo), nearly all freed by reference counting as it
ends; at the default a pool process ran a young collection every Get or two, walking
what was in flight, for no garbage: 12-15% of its CPU per Get (measured on
``scheduler.testing``'s Harness with the benchmarks' plain ``def`` plugin). The older
generations keep their ratios, so they too run that much less often; objects in reference
cycles still go, a little later, and 50,000 of them are a few MB at most.
"""


def _collect_less(**_: object) -> None:
    """Set this process's collector for a long-lived server's allocation pattern.

    What the process holds now (Celery, flytekit, the plugins: a few hundred thousand
    objects) lives as long as it does: out of the collector's sight, a full collection no
    longer walks it (at 600 Gets a job those took a third of a pool process's CPU). Then
    the young generation is collected every :data:`_GC_YOUNG_THRESHOLD` allocations.
    """
    gc.freeze()
    older, oldest = gc.get_threshold()[1:]
    gc.set_threshold(_GC_YOUNG_THRESHOLD, older, oldest)


# Flower reads its FLOWER_* variables after `celery -A worker` has imported this module.
os.environ.setdefault("FLOWER_TASKS_COLUMNS", FLOWER_COLUMNS)
_protect()
worker_process_init.connect(_collect_less, weak=False)
worker_process_shutdown.connect(_metrics_end, weak=False)
# Each pool process starts its task launcher as it starts, so its first task need not wait
# for the launcher's imports (only processes that loaded python-task want one).
worker_process_init.connect(lambda **_: warm_up(), weak=False)
guard_lost_connection()
treat_refused_writes_as_outage()
OutageLog().install()
publish_served_types()


def _settings() -> Settings:
    try:
        return Settings.load()
    except ConfigError as exc:
        # Celery would wrap this in a 70-line import traceback: say what is wrong, and stop.
        sys.stderr.write(f"flyte-celery: {' '.join(str(exc).split())}\n")
        raise SystemExit(2) from None


def serve_own_metrics(settings: Settings) -> Any:
    """With ``FLYTE_CELERY_METRICS_PORT``, serve this worker's or beat's own metrics.

    Returns:
        The server, or ``None`` when no port is set or it cannot be bound (logged: the
        process still runs its jobs).
    """
    if settings.metrics_port is None:
        return None
    try:
        server = serve_process_metrics(settings.metrics_port, settings.metrics_host)
    except OSError as exc:
        log.warning(
            "flyte-celery: cannot serve this process's metrics on %s:%s: %s",
            settings.metrics_host, settings.metrics_port, exc,
        )  # fmt: skip
        return None
    log.info(
        "flyte-celery: this process's metrics on http://%s:%s/metrics",
        settings.metrics_host, server.server_port,
    )  # fmt: skip
    return server


SETTINGS = _settings()
app = make_app(SETTINGS)
# In the worker's main process (ready: its pool has forked, and logging is set up) and in
# beat: one endpoint each.
worker_ready.connect(lambda **_: serve_own_metrics(SETTINGS), weak=False)
beat_init.connect(lambda **_: serve_own_metrics(SETTINGS), weak=False)
# The scheduler's ticks read and write thousands of records each, and the worker's main
# process takes the run leases of every job it receives: both collect as a pool process.
beat_init.connect(_collect_less, weak=False)
worker_ready.connect(_collect_less, weak=False)
