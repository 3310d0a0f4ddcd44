"""Hypothesis strategies for flyteidl literals and plugin-machinery values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flyteidl.core import execution_pb2, literals_pb2
from google.protobuf import duration_pb2, timestamp_pb2
from hypothesis import strategies as st

from plugins.core import ErrorKind, ExecutionError, ExternalResource, Phase, PhaseInfo, TaskInfo

aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)


def _primitive(**kw: object) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**kw)))


def _timestamp(value: datetime) -> literals_pb2.Literal:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return _primitive(datetime=ts)


def _duration(value: timedelta) -> literals_pb2.Literal:
    d = duration_pb2.Duration()
    d.FromTimedelta(value)
    return _primitive(duration=d)


scalar_literals = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda v: _primitive(integer=v)),
    st.floats(allow_nan=False).map(lambda v: _primitive(float_value=v)),
    st.text().map(lambda v: _primitive(string_value=v)),
    st.booleans().map(lambda v: _primitive(boolean=v)),
    aware_datetimes.map(_timestamp),
    st.timedeltas(min_value=timedelta(days=-999), max_value=timedelta(days=999)).map(_duration),
    st.just(literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))),
)

literals = st.recursive(
    scalar_literals,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(
            lambda items: literals_pb2.Literal(
                collection=literals_pb2.LiteralCollection(literals=items)
            )
        ),
        st.dictionaries(st.text(max_size=6), children, max_size=3).map(
            lambda items: literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=items))
        ),
    ),
    max_leaves=10,
)
literal_maps = st.dictionaries(st.text(max_size=10), literals, max_size=5).map(
    lambda items: literals_pb2.LiteralMap(literals=items)
)

task_logs = st.builds(
    execution_pb2.TaskLog,
    uri=st.text(max_size=30),
    name=st.text(max_size=10),
    message_format=st.sampled_from(
        [execution_pb2.TaskLog.UNKNOWN, execution_pb2.TaskLog.CSV, execution_pb2.TaskLog.JSON]
    ),
)

execution_errors = st.builds(
    ExecutionError,
    code=st.text(max_size=20),
    message=st.text(max_size=40),
    kind=st.sampled_from(ErrorKind),
    is_recoverable=st.booleans(),
    error_uri=st.text(max_size=20),
    timestamp=st.none() | aware_datetimes,
    worker=st.text(max_size=10),
)

external_resources = st.builds(
    ExternalResource,
    external_id=st.text(max_size=10),
    index=st.integers(min_value=0, max_value=2**32 - 1),
    logs=st.lists(task_logs, max_size=2).map(tuple),
    retry_attempt=st.integers(min_value=0, max_value=10),
    phase=st.sampled_from(Phase),
    custom_info=st.none() | json_objects,
)

task_infos = st.builds(
    TaskInfo,
    logs=st.lists(task_logs, max_size=3).map(tuple),
    occurred_at=st.none() | aware_datetimes,
    reported_at=st.none() | aware_datetimes,
    custom_info=st.none() | json_objects,
    external_resources=st.lists(external_resources, max_size=2).map(tuple),
)

phase_infos = st.builds(
    PhaseInfo,
    phase=st.sampled_from(Phase),
    version=st.integers(min_value=0, max_value=2**32 - 1),
    reason=st.text(max_size=30),
    info=st.none() | task_infos,
    err=st.none() | execution_errors,
    cleanup_on_failure=st.booleans(),
)
