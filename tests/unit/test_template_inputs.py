"""A template's inputs given as literals, flytekit literal models or plain Python values."""

from __future__ import annotations

import pytest
from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flytekit.models.literals import Literal as FlytekitLiteral
from flytekit.models.literals import LiteralMap as FlytekitLiteralMap
from flytekit.models.literals import Primitive, Scalar

from plugins.errors import InvalidSubmissionError
from plugins.tasks.types import TransformContext
from plugins.tasks.types.binary import msgpack_annotation, read_json_like
from scheduler._client.template_inputs import template_inputs
from tests.helpers import FLOAT, INTEGER, STRING, task_template

CTX = TransformContext.local()


def template() -> tasks_pb2.TaskTemplate:
    return task_template(
        "python-task",
        inputs={
            "n": INTEGER,
            "xs": types_pb2.LiteralType(collection_type=FLOAT),
            "cfg": types_pb2.LiteralType(simple=types_pb2.STRUCT, annotation=msgpack_annotation()),
            "name": STRING,
        },
    )


def test_python_values_become_literals_of_the_declared_types() -> None:
    done = template_inputs(template(), {"n": 3, "xs": [1.5, 2], "cfg": {"k": 1}}, CTX)
    assert isinstance(done, dict)
    assert done["n"].scalar.primitive.integer == 3
    assert [x.scalar.primitive.float_value for x in done["xs"].collection.literals] == [1.5, 2.0]
    assert done["cfg"].scalar.binary.tag == "msgpack"
    assert read_json_like(done["cfg"]) == {"k": 1}


def test_literals_and_flytekit_models_pass_as_they_are() -> None:
    literal = literals_pb2.Literal()
    literal.scalar.primitive.string_value = "x"
    model = FlytekitLiteral(scalar=Scalar(primitive=Primitive(integer=7)))
    done = template_inputs(template(), {"name": literal, "n": model}, CTX)
    assert isinstance(done, dict)
    assert done["name"] is literal
    assert done["n"].scalar.primitive.integer == 7
    whole = template_inputs(template(), FlytekitLiteralMap({"n": model}), CTX)
    assert isinstance(whole, literals_pb2.LiteralMap)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"n": "three"}, "input 'n': expected int, got str 'three'"),
        ({"other": 1}, "input 'other': the task does not declare it"),
        ({"xs": [1, "a"]}, "input 'xs': item 1"),
    ],
)
def test_a_value_that_does_not_fit_is_named(inputs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSubmissionError, match=message):
        template_inputs(template(), inputs, CTX)


def test_an_input_name_that_is_not_unicode_text_is_refused_clearly() -> None:
    from flyteidl.core import tasks_pb2, types_pb2

    from plugins.errors import InvalidSubmissionError
    from scheduler._client.template_inputs import template_inputs

    template = tasks_pb2.TaskTemplate(type="echo")
    var = interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.INTEGER))
    template.interface.inputs.variables["n"].CopyFrom(var)
    with pytest.raises(InvalidSubmissionError, match="lone surrogate"):
        template_inputs(template, {"\ud800": 0}, None)  # type: ignore[arg-type]
