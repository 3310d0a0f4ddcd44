"""Flyte 2's connectors as flyte-celery plugins (needs the ``flyte-celery[flyte2]`` extra).

- :mod:`plugins.flyte2.connectors`: every ``flyte.connectors.AsyncConnector`` registered in
  the worker's Flyte 2, served in process;
- :mod:`plugins.flyte2.idl`: flyteidl2 messages as flyteidl 1's and back.

Nothing here imports Flyte 2 at import time but :mod:`plugins.flyte2.idl`, which needs
``flyteidl2``: the core runs without either.
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_flyteidl1", "is_flyteidl2"]


def is_flyteidl2(value: object) -> bool:
    """Whether ``value`` is a flyteidl2 message (never imports flyteidl2)."""
    descriptor = getattr(value, "DESCRIPTOR", None)
    return str(getattr(descriptor, "full_name", "")).startswith("flyteidl2.")


def as_flyteidl1(value: Any) -> Any:
    """A flyteidl2 template, literal, literal map or task ``Inputs`` as flyteidl 1's; else as is.

    Raises:
        TypeError: Another flyteidl2 message; the message names it.
        ValueError: ``Inputs`` that give a name twice.
    """
    if not is_flyteidl2(value):
        return value
    from plugins.flyte2.idl import to_v1  # noqa: PLC0415 - flyteidl2 is here: value is one

    return to_v1(value)
