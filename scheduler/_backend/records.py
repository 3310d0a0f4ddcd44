"""How a record and its events are laid out in Redis: compact, and split hot from cold.

At 100,000 executions in flight every byte of a record counts twice (Redis memory
and the wire), so the stored form is smaller than :meth:`ExecutionRecord.to_dict`:

- a field equal to its default is left out, and so is ``id`` (it is
  ``project/domain/name``);
- times are integers, microseconds since the epoch (exact, and half the size of
  ISO text);
- the JSON is deflated (zlib): ids and URIs repeat within a record, so it halves
  again. Only full writes pay for it, and they are rare next to polls (below);
- an event is a JSON array ``[attempt, phase, version, reason, time(, cache status)]``.

A record is one STRING of four lines: the CAS version; the *route* (attempt, plugin,
quota namespace and web-API phase, a JSON array) from which the scheduler claims a
due Get server-side without reading the rest; the *hot* fields (the claim, when it
was made, the next Get) that the scheduler and the Get jobs change on every poll, a
JSON object padded with spaces to :data:`HOT_WIDTH`; and the deflated document of
everything else. A write that changes only the hot fields (:func:`hot_only`) replaces
just that line, server-side, and sends no document; where the version keeps its number
of digits (nine writes in ten) and the new hot fields fit the padded line, it rewrites
the record's head in place, so Redis neither copies the document nor sends it to the
replicas. (One string rather than a hash: a hash with a value over 64 bytes leaves
Redis's compact encoding and costs some 300 bytes more per execution.) Earlier
releases' records (a hash ``v``, ``doc`` of plain JSON with ISO times, and dict
events) still read; the store rewrites one in this layout when it reads it.
"""

from __future__ import annotations

import json
import operator
import zlib
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from plugins.core import Phase
from plugins.idl import JSONValue
from scheduler._backend.scripts import EPOCH, to_us
from scheduler._model import CacheStatus, Event, ExecutionRecord

__all__ = [
    "HOT_FIELDS",
    "HOT_WIDTH",
    "decode_event",
    "decode_record",
    "encode_doc",
    "encode_event",
    "encode_hot",
    "encode_route",
    "hot_only",
    "split",
]

HOT_FIELDS = ("claim", "claimed_at", "next_get_at")
"""The fields a claim or an unchanged observation changes: a record's hot part."""

HOT_WIDTH = 88
"""The hot line's width: the longest hot fields (a claim with both times) fit in it."""

_US = timedelta(microseconds=1)
_TIMES = ("created_at", "updated_at", "next_get_at", "deadline", "claimed_at", "not_before")
_WEBAPI_TIMES = ("allocation_start", "launched_at")
_REQUIRED = frozenset(
    ("project", "domain", "name", "task_type", "template_uri", "inputs_uri", "output_prefix")
)
_COLD = tuple(f.name for f in fields(ExecutionRecord) if f.name not in (*HOT_FIELDS, "version"))
_cold = operator.attrgetter(*_COLD)
_JSON = json.JSONEncoder(separators=(",", ":"))


def _defaults() -> dict[str, JSONValue]:
    blank = datetime(2000, 1, 1, tzinfo=UTC)
    return ExecutionRecord("", "", "", "", "", "", "", "", blank, blank).to_dict()


_DEFAULTS = _defaults()
_WEBAPI_DEFAULTS: dict[str, JSONValue] = _DEFAULTS["webapi"]


def _us(when: datetime | None) -> int | None:
    return None if when is None else to_us(when)


def _when(value: Any) -> Any:
    """A stored time: microseconds (compact) or ISO text (older records)."""
    return EPOCH + value * _US if isinstance(value, int) else value


def hot_only(current: ExecutionRecord, new: ExecutionRecord) -> bool:
    """Whether ``new`` differs from ``current`` in :data:`HOT_FIELDS` alone."""
    # One C-level tuple comparison (each field is mostly the very same object): a write
    # back of a poll asks this of every record.
    return bool(_cold(current) == _cold(new))


def encode_hot(record: ExecutionRecord) -> str:
    """The hot fields of ``record``, as the record's hot part holds them (padded)."""
    text = _JSON.encode(
        {
            "claim": None if record.claim is None else str(record.claim),
            "claimed_at": _us(record.claimed_at),
            "next_get_at": _us(record.next_get_at),
        }
    )
    return text.ljust(HOT_WIDTH)


def encode_route(record: ExecutionRecord) -> str:
    """What the claim script needs: ``[attempt, plugin id, quota namespace, web-API phase]``."""
    return _JSON.encode(
        [record.attempt, record.plugin_id, record.token_namespace, int(record.webapi.phase)]
    )


def split(value: bytes) -> tuple[bytes, bytes, bytes]:
    """A stored record's version, hot fields and document (its route is derived data)."""
    version, _, hot, doc = value.split(b"\n", 3)
    return version, hot, doc


def encode_doc(record: ExecutionRecord) -> bytes:
    """The compact document of ``record`` (without its version and hot fields): deflated JSON."""
    full = record.to_dict()
    for name in HOT_FIELDS:
        del full[name]
    for name in _TIMES:
        if name in full:
            full[name] = _us(getattr(record, name))
    webapi: dict[str, JSONValue] = full["webapi"]
    for name in _WEBAPI_TIMES:
        webapi[name] = _us(getattr(record.webapi, name))
    full["webapi"] = {k: v for k, v in webapi.items() if v != _WEBAPI_DEFAULTS[k]}
    kept = {k: v for k, v in full.items() if k != "id" and (k in _REQUIRED or v != _DEFAULTS[k])}
    return zlib.compress(_JSON.encode(kept).encode(), 1)  # level 1: as small as 6 here, faster


def _loads(raw: str | bytes) -> Any:
    """Parse stored JSON: orjson, a third of the standard parser's time per record read.

    The standard encoder writes a float that is not a number as ``NaN`` (a plugin's custom
    info may hold one), which orjson refuses; such a document is read the standard way.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def decode_record(version: Any, doc: Any, hot: Any = None) -> ExecutionRecord:
    """The record stored as ``doc`` with ``hot`` laid over it, at CAS ``version``."""
    if isinstance(doc, str):
        doc = doc.encode()
    # Deflated JSON, or plain JSON (``{``) as earlier releases stored it.
    data: dict[str, Any] = _loads(doc if doc[:1] == b"{" else zlib.decompress(doc))
    if hot is not None:
        data.update(_loads(hot))
    for name in _TIMES:
        if name in data:
            data[name] = _when(data[name])
    webapi: dict[str, Any] = data.get("webapi") or {}
    for name in _WEBAPI_TIMES:
        if name in webapi:
            webapi[name] = _when(webapi[name])
    if "id" not in data:
        data["id"] = f"{data['project']}/{data['domain']}/{data['name']}"
    return ExecutionRecord.from_dict(data, version=int(version))


def encode_event(event: Event) -> str:
    """An event as a compact JSON array; one naming its job or its actor, as a JSON object.

    The object form for a job's events: the previous release reads an array's sixth item
    as a cache status and would fail on a job id there, while it reads an object by its
    keys and ignores the ``job`` key (a rolling upgrade's older clients keep working).
    """
    if event.job is not None or event.actor is not None:
        return event.to_json()
    row: list[JSONValue] = [
        event.attempt,
        event.phase.name,
        event.version,
        event.reason,
        _us(event.occurred_at),
    ]
    if event.cache_status is not None:
        row.append(event.cache_status.value)
    return _JSON.encode(row)


def decode_event(raw: str | bytes) -> Event:
    """Read :func:`encode_event` output (or an older record's dict form)."""
    row = json.loads(raw)
    if isinstance(row, dict):
        return Event.from_json(raw)
    return Event(
        attempt=int(row[0]),
        phase=Phase.from_string(row[1]),
        version=int(row[2]),
        reason=row[3],
        occurred_at=EPOCH + int(row[4]) * _US,
        cache_status=CacheStatus(row[5]) if len(row) > 5 else None,
    )
