"""``flyte-celery submit-many``: many executions from a JSON Lines file, in one batch.

Each non-blank line (``#`` starts a comment line) is one submission, a JSON object::

    {"type": "echo", "inputs": {"x": 3}, "name": "run-1", "retries": 1, "timeout": "10m"}
    {"template": "task.pb", "inputs": {"when": "datetime:2026-01-01T00:00:00"}}

``type`` (a task type) or ``template`` (a serialized flyteidl TaskTemplate file,
relative to the JSON Lines file), then optional ``inputs`` as ``submit --input``
reads them (a number, a boolean, or ``[type:]value`` text), ``name``, and, with
``type``, ``retries`` and ``timeout``. Every line is checked before anything is
stored (:meth:`~scheduler._client.Client.submit_many`); a bad line is named by its
number and nothing is submitted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flyteidl.core import tasks_pb2

from plugins.errors import InvalidSubmissionError
from scheduler._client import Submission
from scheduler.cli.inputs import parse_input, read_template, template_of_type

__all__ = ["read_submissions"]

_KEYS = frozenset(("type", "template", "inputs", "name", "retries", "timeout"))


def _text(name: str, value: Any) -> str:
    """An input's JSON value as ``submit --input`` text."""
    if isinstance(value, bool):
        return f"{name}=bool:{str(value).lower()}"
    if isinstance(value, int | float):
        return f"{name}={value!r}"
    if isinstance(value, str):
        return f"{name}={value}"
    raise ValueError(f"input {name!r} must be a number, a boolean or text, got {value!r}")


def _submission(
    line: dict[str, Any], folder: Path, templates: dict[Path, tasks_pb2.TaskTemplate]
) -> Submission:
    unknown = sorted(line.keys() - _KEYS)
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})"
        )
    if ("type" in line) == ("template" in line):
        raise ValueError('give exactly one of "type" and "template"')
    if "template" in line:
        if "retries" in line or "timeout" in line:
            raise ValueError('"retries" and "timeout" go with "type" (a template has its own)')
        path = folder / str(line["template"])
        if path not in templates:
            templates[path] = read_template(path)
        template = templates[path]
    else:
        retries = line.get("retries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f'"retries" must be a whole number >= 0, got {retries!r}')
        template = template_of_type(str(line["type"]), retries, line.get("timeout"))
    inputs = line.get("inputs", {})
    if not isinstance(inputs, dict):
        raise ValueError(f'"inputs" must be an object, got {type(inputs).__name__}')
    literals = dict(parse_input(_text(str(k), v)) for k, v in inputs.items())
    name = line.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f'"name" must be text, got {name!r}')
    return Submission(template, literals, name)


def read_submissions(path: Path) -> list[Submission]:
    """The submissions in the JSON Lines file ``path`` (see the module's docstring).

    Raises:
        InvalidSubmissionError: The file cannot be read, or a line is malformed (the
            message gives its number and what is wrong).
    """
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSubmissionError(f"cannot read {path}: {exc}") from None
    templates: dict[Path, tasks_pb2.TaskTemplate] = {}
    submissions = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            line = json.loads(text)
            if not isinstance(line, dict):
                raise ValueError(f"expected a JSON object, got {type(line).__name__}")
            submissions.append(_submission(line, path.parent, templates))
        except (ValueError, InvalidSubmissionError) as exc:
            raise InvalidSubmissionError(f"{path} line {number}: {exc}") from None
    if not submissions:
        raise InvalidSubmissionError(f"{path} has no submissions")
    return submissions
