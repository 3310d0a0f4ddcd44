"""Storage of inputs, outputs and errors over any fsspec URL.

The Python twin of Flyte's ``pluginmachinery/io`` and ``ioutils``. This package
exports what a plugin author meets: the reader, writer and path interfaces, the
:class:`DataStore`, the concrete readers and writers a plugin builds, and the
well-known file names. Everything else (shard selectors, raw-output path
helpers, error readers, output validation, ...) stays importable from its
submodule:

- :mod:`plugins.io.datastore`: :class:`DataStore` and references.
- :mod:`plugins.io.interfaces`: the reader, writer and path protocols.
- :mod:`plugins.io.paths`: file names, raw-output and checkpoint paths, sharding.
- :mod:`plugins.io.readers`: input, output and error readers.
- :mod:`plugins.io.writers`: output writers and error documents.
- :mod:`plugins.io.validation`: checking the outputs a task produced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from plugins.exports import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
    from plugins.io.datastore import DataStore, Metadata, join_reference
    from plugins.io.interfaces import (
        CheckpointPaths,
        DataReference,
        ErrorReader,
        InputFilePaths,
        InputReader,
        OutputFilePaths,
        OutputReader,
        OutputWriter,
        RawOutputPaths,
    )
    from plugins.io.paths import (
        DECK_SUFFIX,
        ERRORS_SUFFIX,
        FUTURES_SUFFIX,
        INPUTS_SUFFIX,
        OUTPUTS_SUFFIX,
        TASK_TEMPLATE_SUFFIX,
        RemoteFileOutputPaths,
    )
    from plugins.io.readers import (
        InMemoryOutputReader,
        RemoteFileInputReader,
        RemoteFileOutputReader,
    )
    from plugins.io.writers import RemoteFileOutputWriter

__all__ = [
    "DECK_SUFFIX",
    "ERRORS_SUFFIX",
    "FUTURES_SUFFIX",
    "INPUTS_SUFFIX",
    "OUTPUTS_SUFFIX",
    "TASK_TEMPLATE_SUFFIX",
    "CheckpointPaths",
    "DataReference",
    "DataStore",
    "ErrorReader",
    "InMemoryOutputReader",
    "InputFilePaths",
    "InputReader",
    "Metadata",
    "OutputFilePaths",
    "OutputReader",
    "OutputWriter",
    "RawOutputPaths",
    "RemoteFileInputReader",
    "RemoteFileOutputPaths",
    "RemoteFileOutputReader",
    "RemoteFileOutputWriter",
    "join_reference",
]


_EXPORTS = {
    "plugins.io.datastore": ("DataStore", "Metadata", "join_reference"),
    "plugins.io.interfaces": (
        "CheckpointPaths",
        "DataReference",
        "ErrorReader",
        "InputFilePaths",
        "InputReader",
        "OutputFilePaths",
        "OutputReader",
        "OutputWriter",
        "RawOutputPaths",
    ),
    "plugins.io.paths": (
        "DECK_SUFFIX",
        "ERRORS_SUFFIX",
        "FUTURES_SUFFIX",
        "INPUTS_SUFFIX",
        "OUTPUTS_SUFFIX",
        "TASK_TEMPLATE_SUFFIX",
        "RemoteFileOutputPaths",
    ),
    "plugins.io.readers": (
        "InMemoryOutputReader",
        "RemoteFileInputReader",
        "RemoteFileOutputReader",
    ),
    "plugins.io.writers": ("RemoteFileOutputWriter",),
}

__getattr__ = _lazy_exports(__name__, _EXPORTS)
