"""message_to_json: its own path for flat messages gives exactly protobuf's JSON printer's dict."""

from __future__ import annotations

import pytest
from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2, tasks_pb2
from google.protobuf import duration_pb2, json_format, struct_pb2
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from plugins.idl import message_to_json

text = st.text(max_size=20)
formats = st.sampled_from(list(execution_pb2.TaskLog.MessageFormat.values()))


def printed(message: Message) -> object:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@given(text, text, formats, st.booleans(), st.booleans())
def test_a_log_link_prints_as_protobufs_printer_prints_it(
    uri: str, name: str, message_format: int, show: bool, hide: bool
) -> None:
    log = execution_pb2.TaskLog(
        uri=uri,
        name=name,
        message_format=message_format,  # type: ignore[arg-type]
        ShowWhilePending=show,
        HideOnceFinished=hide,
    )
    assert message_to_json(log) == printed(log)


@pytest.mark.parametrize(
    "message",
    [
        execution_pb2.TaskLog(),
        identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", name="n"),
        execution_pb2.ExecutionError(code="E", message="m", kind=execution_pb2.ExecutionError.USER),
        # What the flat path leaves to the printer: a nested duration, 64-bit ints, floats,
        # repeated fields, a well-known type, an enum number the schema does not name.
        execution_pb2.TaskLog(uri="u", ttl=duration_pb2.Duration(seconds=5)),
        literals_pb2.Primitive(integer=2**40),
        literals_pb2.Primitive(float_value=0.1),
        tasks_pb2.Resources(requests=[tasks_pb2.Resources.ResourceEntry(value="1")]),
        struct_pb2.Struct(fields={"a": struct_pb2.Value(number_value=1)}),
        identifier_pb2.Identifier(resource_type=99, name="n"),  # type: ignore[arg-type]
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_message_prints_as_protobufs_printer_prints_it(message: Message) -> None:
    assert message_to_json(message) == printed(message)
