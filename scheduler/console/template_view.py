"""A task template, and the log links a plugin reported, as facts for people to read.

The execution page shows what the execution runs: the template's type, identity,
metadata (retries, timeout, cache...), interface and ``custom``, as Flyte's console
shows a task; and the ``TaskLog`` links of the last phase information (connectors
return them: a Databricks run page, a BigQuery job), as links.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flyteidl.core import execution_pb2, tasks_pb2, types_pb2
from google.protobuf import json_format

from plugins.core import PhaseInfo

__all__ = ["LogLink", "TemplateView", "log_links", "template_view", "type_text"]

_LONGEST_CUSTOM = 20_000
"""The most characters of ``custom`` shown; the rest is cut with a note."""


def _blob(blob: types_pb2.BlobType) -> str:
    kind = "directory" if blob.dimensionality == types_pb2.BlobType.MULTIPART else "file"
    return f"{kind} ({blob.format})" if blob.format else kind


def _dataset(dataset: types_pb2.StructuredDatasetType) -> str:
    return f"structured dataset ({dataset.format})" if dataset.format else "structured dataset"


_KINDS: dict[str, Callable[[types_pb2.LiteralType], str]] = {
    "simple": lambda lt: types_pb2.SimpleType.Name(lt.simple).lower(),
    "collection_type": lambda lt: f"list[{type_text(lt.collection_type)}]",
    "map_value_type": lambda lt: f"dict[str, {type_text(lt.map_value_type)}]",
    "blob": lambda lt: _blob(lt.blob),
    "enum_type": lambda lt: f"enum({', '.join(lt.enum_type.values)})",
    "union_type": lambda lt: " | ".join(type_text(v) for v in lt.union_type.variants),
    "structured_dataset_type": lambda lt: _dataset(lt.structured_dataset_type),
}


def type_text(lt: types_pb2.LiteralType) -> str:
    """A literal type as a short name: ``integer``, ``list[string]``, ``dict[str, float]``."""
    which = lt.WhichOneof("type")
    show = _KINDS.get(which or "")
    return show(lt) if show is not None else which or "not declared"


@dataclass(frozen=True)
class TemplateView:
    """What the page shows of a template.

    Attributes:
        facts: Label and text of each fact: type, id, retries, timeout, cache...
        inputs: Each declared input's name and type.
        outputs: Each declared output's name and type.
        custom: The ``custom`` struct as indented JSON ("" when there is none).
    """

    facts: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    custom: str = ""


def _metadata_facts(meta: tasks_pb2.TaskMetadata) -> list[tuple[str, str]]:
    facts = [("retries", str(meta.retries.retries))]
    if meta.HasField("timeout") and meta.timeout.ToTimedelta().total_seconds() > 0:
        facts.append(("timeout", f"{meta.timeout.ToTimedelta().total_seconds():g}s"))
    if meta.discoverable:
        cache = f"on, version {meta.discovery_version or '(none)'}"
        facts.append(("cache", cache + (", serialized" if meta.cache_serializable else "")))
    if meta.interruptible:
        facts.append(("interruptible", "yes"))
    if meta.HasField("runtime") and (meta.runtime.flavor or meta.runtime.version):
        facts.append(("runtime", f"{meta.runtime.flavor} {meta.runtime.version}".strip()))
    if meta.deprecated_error_message:
        facts.append(("deprecated", meta.deprecated_error_message))
    return facts


def template_view(template: tasks_pb2.TaskTemplate) -> TemplateView:
    """The facts, interface and ``custom`` of ``template``."""
    version = f" (version {template.task_type_version})" if template.task_type_version else ""
    facts = [("type", template.type + version)]
    ident = template.id
    if ident.name:
        where = "/".join(part for part in (ident.project, ident.domain) if part)
        named = f"{where}/{ident.name}" if where else ident.name
        facts.append(("task id", f"{named}@{ident.version}" if ident.version else named))
    facts += _metadata_facts(template.metadata)
    if template.HasField("container"):
        facts.append(("image", template.container.image or "(none)"))
        facts.append(("command", " ".join([*template.container.command, *template.container.args])))
    secrets = [s.key or s.group for s in template.security_context.secrets]
    if secrets:
        facts.append(("secrets", ", ".join(secrets)))
    custom = ""
    if template.HasField("custom"):
        custom = json.dumps(json_format.MessageToDict(template.custom), indent=2, sort_keys=True)
        if len(custom) > _LONGEST_CUSTOM:
            cut = len(custom) - _LONGEST_CUSTOM
            custom = custom[:_LONGEST_CUSTOM] + f"\n... ({cut} more characters)"
    interface = template.interface
    return TemplateView(
        facts=facts,
        inputs=[(n, type_text(v.type)) for n, v in sorted(interface.inputs.variables.items())],
        outputs=[(n, type_text(v.type)) for n, v in sorted(interface.outputs.variables.items())],
        custom=custom,
    )


@dataclass(frozen=True)
class LogLink:
    """One log a plugin reported: its name, and its address if it is a web page."""

    name: str
    uri: str
    linkable: bool


def log_links(info: PhaseInfo | None) -> list[LogLink]:
    """The ``TaskLog``s of the last phase information, and of its external resources.

    Only ``http`` and ``https`` addresses become links: a plugin's report must not put
    a ``javascript:`` address on the page.
    """
    if info is None or info.info is None:
        return []
    logs: list[execution_pb2.TaskLog] = list(info.info.logs)
    for resource in info.info.external_resources:
        logs += resource.logs
    links = []
    for log in logs:
        scheme = urlsplit(log.uri).scheme.lower()
        links.append(LogLink(log.name or log.uri, log.uri, scheme in ("http", "https")))
    return links
