"""scheduler._client.validation: what submit refuses, and how it names the problem."""

from __future__ import annotations

import pytest
from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2

from plugins.errors import InvalidSubmissionError
from scheduler._client.validation import (
    MAX_RETRIES,
    check_inputs,
    check_template,
    normalize_inputs,
)

MB = 1024 * 1024


def lit(**value: object) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    ((field, v),) = value.items()
    setattr(literal.scalar.primitive, field, v)
    return literal


def declared(**types: types_pb2.LiteralType) -> tasks_pb2.TaskTemplate:
    template = tasks_pb2.TaskTemplate(type="t")
    template.id.name = "my.task"
    for name, lt in types.items():
        template.interface.inputs.variables[name].CopyFrom(interface_pb2.Variable(type=lt))
    return template


INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
FLOAT = types_pb2.LiteralType(simple=types_pb2.FLOAT)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: setattr(t, "type", ""), "no task type"),
        (lambda t: setattr(t.metadata.retries, "retries", MAX_RETRIES + 1), "at most 100 retries"),
        (lambda t: setattr(t.metadata.timeout, "seconds", -5), "metadata.timeout is negative"),
        (lambda t: setattr(t.metadata.timeout, "seconds", 2**40), "at most 30 days"),
        (
            lambda t: t.custom.fields["x"].__setattr__("string_value", "x" * MB),
            "workers read at most",
        ),
    ],
)
def test_templates_no_worker_could_run_are_refused(change, message: str) -> None:
    template = tasks_pb2.TaskTemplate(type="echo")
    change(template)
    with pytest.raises(InvalidSubmissionError, match=message):
        check_template(template, max_bytes=MB)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("x=1", "inputs must be a dict of input name to flyteidl core.Literal.*got str"),
        ([1, 2], "got list"),
        ({"x": 1}, "input 'x' must be a flyteidl core.Literal, got int"),
        ({3: lit(integer=1)}, "input names must be non-empty text, got 3"),
        ({"\ud800": lit(integer=1)}, "is not valid"),
        ({"big": lit(string_value="x" * MB)}, "inputs are .* bytes; workers read at most"),
    ],
)
def test_inputs_that_are_not_literals_are_refused(inputs: object, message: str) -> None:
    with pytest.raises(InvalidSubmissionError, match=message):
        normalize_inputs(inputs, max_bytes=MB)


def test_inputs_are_checked_against_the_interface() -> None:
    template = declared(n=INT, ratio=FLOAT, xs=types_pb2.LiteralType(collection_type=STR))
    xs = literals_pb2.Literal()
    xs.collection.literals.add().CopyFrom(lit(string_value="a"))
    xs.collection.literals.add().CopyFrom(lit(integer=2))
    values = normalize_inputs({"n": lit(string_value="7"), "ratio": lit(integer=1), "xs": xs}, MB)
    with pytest.raises(InvalidSubmissionError) as info:
        check_inputs(template, values)
    message = str(info.value)
    assert message.startswith("task 'my.task': ")
    assert "input 'n': expected INTEGER, got string_value" in message
    assert "input 'xs'[1]: expected STRING, got integer" in message
    assert "ratio" not in message  # an integer where a float is declared converts losslessly


def test_well_typed_inputs_pass_and_undeclared_interfaces_accept_anything() -> None:
    union = types_pb2.LiteralType(
        union_type=types_pb2.UnionType(variants=[INT, types_pb2.LiteralType(simple=types_pb2.NONE)])
    )
    values = normalize_inputs({"n": lit(integer=1), "maybe": lit(integer=2)}, MB)
    check_inputs(declared(n=INT, maybe=union), values)
    check_inputs(tasks_pb2.TaskTemplate(type="t"), normalize_inputs({"any": lit(boolean=True)}, MB))


def test_missing_and_undeclared_inputs_are_named() -> None:
    values = normalize_inputs({"extra": lit(integer=1)}, MB)
    with pytest.raises(InvalidSubmissionError, match="missing inputs: n; inputs the task does not"):
        check_inputs(declared(n=INT), values)
