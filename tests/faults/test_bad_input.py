"""Fuzzed submissions: submit raises only the project's errors, and stores nothing bad.

Whatever a caller passes (odd ids, values that are not literals, names that are not
text, oversized or overlong templates, huge retries and timeouts), ``Client.submit``
either creates a well-formed execution or raises a FlyteCeleryError that says why.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plugins.builtin import ECHO
from plugins.core import PluginRegistry
from plugins.errors import FlyteCeleryError
from scheduler import Settings
from scheduler.testing import Harness, RedisServer

TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", ".", "..", "a/b", "a/./..", "x\x00y", "\ud800", "é", "a" * 300, "ok"]),
)


def integer(value: int) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    literal.scalar.primitive.integer = value
    return literal


def string(value: str) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    literal.scalar.primitive.string_value = value
    return literal


VALUES = st.one_of(
    st.integers(),
    st.builds(integer, st.integers(-(2**63), 2**63 - 1)),
    st.builds(string, st.text(max_size=5)),
)
INPUTS = st.one_of(
    st.builds(lambda v: {"n": integer(v)}, st.integers(-(2**63), 2**63 - 1)),  # well-formed
    st.none(),
    st.text(max_size=5),
    st.integers(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.one_of(TEXTS, st.integers()), VALUES, max_size=3),
)


OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    directory = tmp_path_factory.mktemp("fuzz")
    server = RedisServer.start(directory)
    registry = PluginRegistry()
    registry.register(ECHO)
    settings_ = Settings(
        redis_url=server.url,
        storage=f"file://{directory}/storage",
        key_prefix=f"f{uuid.uuid4().hex[:6]}",
        max_download_bytes=64 * 1024,
    )
    yield Harness.create(
        settings_, registry=registry, redis_client=redis.Redis.from_url(server.url)
    )
    server.stop()


# Sane values are drawn often enough that many submissions pass and are checked too.
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=1000)
@given(
    project=st.one_of(st.just("p"), st.just("team-a"), TEXTS, st.integers()),
    domain=st.one_of(st.just("d"), st.just("production"), TEXTS),
    name=st.one_of(st.none(), st.none(), TEXTS),
    task_type=st.one_of(st.just("echo"), st.just("echo"), st.text(max_size=8)),
    retries=st.one_of(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2**32 - 1)),
    timeout=st.one_of(st.none(), st.none(), st.integers(0, 600), st.integers(-(2**40), 2**40)),
    inputs=INPUTS,
    declare=st.booleans(),
    oversized=st.sampled_from([False, False, False, True]),
)
@example(  # found by CI: an input name protobuf cannot encode
    project="p", domain="d", name=None, task_type="echo", retries=0, timeout=None,
    inputs={"\ud800": 0}, declare=True, oversized=False,
)  # fmt: skip
def test_submit_raises_only_the_projects_errors(
    harness: Harness,
    project: object,
    domain: str,
    name: str | None,
    task_type: str,
    retries: int,
    timeout: int | None,
    inputs: object,
    declare: bool,
    oversized: bool,
) -> None:
    try:
        template = tasks_pb2.TaskTemplate(type=task_type)
    except ValueError:
        return  # protobuf itself refuses text that is not UTF-8; nothing reaches submit
    template.metadata.retries.retries = retries
    if timeout is not None:
        template.metadata.timeout.seconds = timeout
    if declare:
        var = interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.INTEGER))
        template.interface.inputs.variables["n"].CopyFrom(var)
    if oversized:
        template.custom.fields["blob"].string_value = "x" * (65 * 1024)
    refused = ""
    try:
        ex = harness.client.submit(template, inputs, project=project, domain=domain, name=name)  # type: ignore[arg-type]
    except FlyteCeleryError as exc:
        refused = str(exc) or "(an error without a message)"
    OUTCOMES["refused" if refused else "accepted"] += 1
    if refused:
        assert refused != "(an error without a message)", "every error names what is wrong"
        return
    record = ex.record
    assert (
        Path(record.inputs_uri.removeprefix("file://"))
        .resolve()
        .is_relative_to(Path(harness.runtime.settings.storage.removeprefix("file://")).resolve())
    )
    assert record.retries <= 100


def test_the_fuzzing_reached_both_outcomes() -> None:
    # Runs after the property: a fuzzer that never gets past validation tests nothing.
    print(
        f"\nfuzzed submissions: {sum(OUTCOMES.values())}, {dict(OUTCOMES)}, "
        "exceptions not the project's: 0 (any would have failed the property)"
    )
    assert OUTCOMES["accepted"] > 0
    assert OUTCOMES["refused"] > 0
