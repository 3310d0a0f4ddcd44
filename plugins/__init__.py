"""flyte-celery's foundation: the plugin machinery, errors, flyteidl adapters and plugins.

Subpackages:

- :mod:`plugins.core`: phases, transitions, quotas, execution context, plugin registry;
- :mod:`plugins.io`: storage of inputs, outputs and errors over fsspec;
- :mod:`plugins.webapi`: the web-API plugin contract (AsyncPlugin, SyncPlugin);
- :mod:`plugins.errors`: the one error hierarchy;
- :mod:`plugins.idl`: flyteidl adapters.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flyte-celery")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
