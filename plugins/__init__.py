"""flyte-celery's foundation: the plugin machinery, errors, flyteidl adapters and plugins.

Subpackages:

- :mod:`plugins.core`: phases, transitions, quotas, execution context, plugin registry;
- :mod:`plugins.io`: storage of inputs, outputs and errors over fsspec;
- :mod:`plugins.webapi`: the web-API plugin contract (AsyncPlugin, SyncPlugin);
- :mod:`plugins.errors`: the one error hierarchy;
- :mod:`plugins.idl`: flyteidl adapters.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Looked up when first asked for: importlib.metadata (and the email package it uses)
    # would otherwise load in every process that imports any part of ``plugins``.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        found = version("flyte-celery")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0"
    globals()["__version__"] = found
    return found
