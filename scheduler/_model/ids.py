"""Execution ids: ``project/domain/name``, each part one safe path segment in storage."""

from __future__ import annotations

import re

__all__ = ["execution_id", "is_utf8"]


_MAX_ID_PART = 255  # one path segment in storage: most filesystems' limit
_UNSAFE_ID_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")


def is_utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (no lone surrogates): what Redis and protobuf take."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def execution_id(project: str, domain: str, name: str) -> str:
    """The id of an execution: ``project/domain/name``.

    Each part becomes one path segment in storage, so it must be one: non-empty, not
    ``.`` or ``..``, without a slash, a backslash or control characters, and at most 255
    characters. Otherwise two executions could share a directory, or one could write
    outside the storage root.

    Raises:
        ValueError: A part is not a valid segment; the message names it.
    """
    for label, part in (("project", project), ("domain", domain), ("name", name)):
        if not isinstance(part, str):
            raise ValueError(f"execution {label} must be a string, got {type(part).__name__}")
        problem = ""
        if not part:
            problem = "must not be empty"
        elif part in (".", ".."):
            problem = "must not be '.' or '..'"
        elif _UNSAFE_ID_CHARS.search(part):
            problem = "must not contain '/', '\\' or control characters"
        elif len(part) > _MAX_ID_PART:
            problem = f"must be at most {_MAX_ID_PART} characters, got {len(part)}"
        elif not is_utf8(part):
            problem = "must be valid Unicode text (it has a lone surrogate)"
        if problem:
            shown = part if len(part) <= 60 else part[:60] + "..."
            raise ValueError(f"execution {label} {problem}: {shown!r}")
    return f"{project}/{domain}/{name}"
