"""flyteidl2 and flyteidl 1, both ways: templates, literals, inputs, outputs, connector Resources.

Flyte 2's core messages (``flyteidl2.core``: ``TaskTemplate``, ``Literal``, ``LiteralType``,
``TypedInterface``...) keep flyteidl 1's field numbers and types and add fields of their own
(a template's ``reuse_policy``, a literal's ``artifact_id``...). So a message converts by its
wire bytes: every field the two share comes across as it is, and a field only one side
knows rides along as an unknown field, so converting there and back loses nothing. Where the
shapes differ, the conversion is written out: flyteidl2's ``task.Inputs`` and ``Outputs``
are lists of named literals (and inputs carry a context), flyteidl 1's a ``LiteralMap``; a
connector's ``Resource`` says its phase with ``TaskExecution.Phase`` in both, and only
flyteidl 1's has the deprecated ``state``.

This module imports ``flyteidl2``, which the ``flyte-celery[flyte2]`` extra installs.
"""

from __future__ import annotations

from typing import TypeVar

from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2, tasks_pb2
from flyteidl2.connector import connector_pb2
from flyteidl2.core import execution_pb2 as execution2_pb2
from flyteidl2.core import literals_pb2 as literals2_pb2
from flyteidl2.core import tasks_pb2 as tasks2_pb2
from flyteidl2.task import common_pb2
from google.protobuf.message import Message

__all__ = [
    "as_v1",
    "as_v2",
    "inputs_v1",
    "inputs_v2",
    "outputs_v1",
    "outputs_v2",
    "resource_v1",
    "template_v1",
    "template_v2",
    "to_v1",
]

M = TypeVar("M", bound=Message)


def as_v2(message: Message, kind: type[M]) -> M:
    """``message`` (flyteidl 1) as the flyteidl2 message ``kind``, by its wire bytes.

    Serialized deterministically: a flyteidl 1 map (an interface's variables) that is a
    list in flyteidl2 comes across sorted by key, not in the map's hash order, which
    differs between processes (a template converted twice would not compare equal).
    """
    return kind.FromString(message.SerializeToString(deterministic=True))


def as_v1(message: Message, kind: type[M]) -> M:
    """``message`` (flyteidl2) as the flyteidl 1 message ``kind``, by its wire bytes."""
    return kind.FromString(message.SerializeToString())


def template_v2(template: tasks_pb2.TaskTemplate) -> tasks2_pb2.TaskTemplate:
    """A flyteidl 1 template as flyteidl2's."""
    return as_v2(template, tasks2_pb2.TaskTemplate)


_NOT_ENFORCED = (
    ("metadata.timeouts.queued_timeout", ("timeouts",), "queued_timeout"),
    ("metadata.timeouts.deadline", ("timeouts",), "deadline"),
    ("metadata.cache_max_age", (), "cache_max_age"),
    ("metadata.retries.backoff", ("retries",), "backoff"),
)
"""flyteidl2-only settings that would change how a task runs, which flyteidl 1 cannot say:
(name, path below the metadata, field)."""


def not_enforced(template: tasks2_pb2.TaskTemplate) -> list[str]:
    """The flyteidl2-only settings of ``template`` that flyte-celery would not enforce."""
    found = []
    for name, path, last in _NOT_ENFORCED:
        holder: Message = template.metadata
        for part in path:
            holder = getattr(holder, part)
        if holder.HasField(last):
            found.append(name)
    return found


def template_v1(template: tasks2_pb2.TaskTemplate) -> tasks_pb2.TaskTemplate:
    """A flyteidl2 template as flyteidl 1's (its flyteidl2-only fields kept, unknown).

    Raises:
        ValueError: It sets what only flyteidl2 says and flyte-celery does not enforce (a
            queued timeout, a deadline, a cache max age, a retry back-off), named.
    """
    ignored = not_enforced(template)
    if ignored:
        raise ValueError(
            f"the flyteidl2 template sets {', '.join(ignored)}, which flyte-celery does not "
            "enforce; use metadata.timeout and metadata.retries.retries, or leave them out"
        )
    return as_v1(template, tasks_pb2.TaskTemplate)


def inputs_v2(literals: literals_pb2.LiteralMap) -> common_pb2.Inputs:
    """A LiteralMap as flyteidl2's ``Inputs``: named literals, by name."""
    return common_pb2.Inputs(
        literals=[
            common_pb2.NamedLiteral(name=name, value=as_v2(value, literals2_pb2.Literal))
            for name, value in sorted(literals.literals.items())
        ]
    )


def _named_v1(named: list[common_pb2.NamedLiteral]) -> literals_pb2.LiteralMap:
    result = literals_pb2.LiteralMap()
    for item in named:
        if item.name in result.literals:
            raise ValueError(f"the literal {item.name!r} is given twice")
        result.literals[item.name].CopyFrom(as_v1(item.value, literals_pb2.Literal))
    return result


def inputs_v1(inputs: common_pb2.Inputs | literals2_pb2.LiteralMap) -> literals_pb2.LiteralMap:
    """flyteidl2's ``Inputs`` (or a flyteidl2 LiteralMap) as a flyteidl 1 LiteralMap.

    Raises:
        ValueError: A name is given twice.
    """
    if isinstance(inputs, literals2_pb2.LiteralMap):
        return as_v1(inputs, literals_pb2.LiteralMap)
    return _named_v1(list(inputs.literals))


def outputs_v1(outputs: common_pb2.Outputs) -> literals_pb2.LiteralMap:
    """flyteidl2's ``Outputs`` as a flyteidl 1 LiteralMap.

    Raises:
        ValueError: A name is given twice.
    """
    return _named_v1(list(outputs.literals))


def resource_v1(resource: connector_pb2.Resource) -> agent_pb2.Resource:
    """A Flyte 2 connector's ``Resource`` as flyteidl 1's, for Propeller's phase mapping.

    Raises:
        ValueError: An output is given twice.
    """
    # By name: flyteidl 1's TaskExecution.Phase has the same names (and numbers). A phase
    # newer than ours is UNDEFINED, which the mapping reports as a bad resource.
    try:
        phase = execution2_pb2.TaskExecution.Phase.Name(resource.phase)
    except ValueError:
        phase = "UNDEFINED"
    result = agent_pb2.Resource(phase=phase, message=resource.message)
    for link in resource.log_links:
        result.log_links.add().ParseFromString(link.SerializeToString())
    if resource.HasField("custom_info"):
        result.custom_info.CopyFrom(resource.custom_info)
    if resource.HasField("outputs"):
        result.outputs.CopyFrom(outputs_v1(resource.outputs))
    return result


def outputs_v2(literals: literals_pb2.LiteralMap) -> common_pb2.Outputs:
    """A LiteralMap as flyteidl2's ``Outputs``: named literals, by name."""
    return common_pb2.Outputs(literals=list(inputs_v2(literals).literals))


def to_v1(message: Message) -> Message:
    """A flyteidl2 template, literal, literal map or ``Inputs`` as its flyteidl 1 twin.

    Raises:
        TypeError: Another flyteidl2 message; the message names it.
        ValueError: ``Inputs`` that give a name twice.
    """
    name = message.DESCRIPTOR.full_name
    if isinstance(message, tasks2_pb2.TaskTemplate):
        return template_v1(message)
    if isinstance(message, literals2_pb2.Literal):
        return as_v1(message, literals_pb2.Literal)
    if isinstance(message, literals2_pb2.LiteralMap | common_pb2.Inputs):
        return inputs_v1(message)
    raise TypeError(
        f"{name} has no flyteidl 1 form here: give a TaskTemplate, a Literal, a LiteralMap "
        "or task Inputs"
    )
