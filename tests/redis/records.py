"""Execution records for the store's tests: one by name, and a strategy of any record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from plugins.core import Phase
from scheduler._backend import ExecutionStore
from scheduler._model import ExecutionRecord, TeardownKind, WebAPIPhase, WebAPIState, execution_id
from tests.strategies import aware_datetimes, execution_errors, json_values

__all__ = ["T0", "place", "record", "records"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(name: str = "e1", **kw: object) -> ExecutionRecord:
    fields: dict[str, object] = {
        "id": execution_id("p", "d", name),
        "project": "p",
        "domain": "d",
        "name": name,
        "task_type": "echo",
        "template_uri": f"memory://x/{name}/task.pb",
        "inputs_uri": f"memory://x/{name}",
        "output_prefix": f"memory://x/{name}/out",
        "created_at": T0,
        "updated_at": T0,
        "pending": True,
    }
    fields.update(kw)
    return ExecutionRecord(**fields)  # type: ignore[arg-type]


def place(store: ExecutionStore, target: ExecutionRecord) -> ExecutionRecord:
    """Store ``target`` as the scheduler would reach it: submitted, then one transition.

    Records come to be only as plain submissions (:meth:`ExecutionStore.create`), so a test
    that needs one in a later state submits it and moves it there (version 2, two events
    when the phase changed).
    """
    submitted = replace(
        target,
        pending=True,
        finished=False,
        next_get_at=None,
        deadline=None,
        claim=None,
        claimed_at=None,
        waiting_namespace=None,
    )
    created = store.create(submitted)
    if target == submitted:
        return created
    placed = store.transition(created, replace(target, version=created.version))
    assert placed is not None
    return placed


records = st.builds(
    record,
    name=st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=12),
    attempt=st.integers(min_value=0, max_value=50),
    phase=st.sampled_from(Phase),
    phase_version=st.integers(min_value=0, max_value=2**32 - 1),
    reason=st.text(max_size=20),
    finished=st.booleans(),
    plugin_state=json_values,
    last_error=st.none() | execution_errors,
    next_get_at=st.none() | aware_datetimes,
    retries=st.integers(min_value=0, max_value=10),
    timeout=st.none() | st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2)),
    token_namespace=st.none() | st.text(max_size=10),
    teardown=st.sampled_from([None, TeardownKind.ABORT, TeardownKind.TIMEOUT]),
    teardown_reason=st.text(max_size=10),
    not_before=st.none() | aware_datetimes,
    phase_info=st.none() | st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    signal_pending=st.booleans(),
    webapi=st.builds(
        WebAPIState,
        phase=st.sampled_from(WebAPIPhase),
        sync_failure_count=st.integers(min_value=0, max_value=10),
        resource_meta=st.none() | st.text(max_size=20),
        allocation_start=st.none() | aware_datetimes,
        launched_at=st.none() | aware_datetimes,
    ),
)
