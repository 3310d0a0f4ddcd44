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


# Names this package exported before its surface was narrowed, and where they live now.
# They still resolve, with a DeprecationWarning, until the next minor release.
_MOVED = {
    "BufferedOutputWriter": "plugins.io.writers",
    "error_document": "plugins.io.writers",
    "CachedInputReader": "plugins.io.readers",
    "ERROR_FILE_BAD_FORMAT": "plugins.io.readers",
    "ERROR_FILE_NOT_FOUND": "plugins.io.readers",
    "EarliestFileErrorReader": "plugins.io.readers",
    "NO_OUTPUTS_PRODUCED": "plugins.io.readers",
    "SingleFileErrorReader": "plugins.io.readers",
    "error_document_to_execution_error": "plugins.io.readers",
    "OUTPUTS_NOT_FOUND": "plugins.io.validation",
    "OUTPUTS_NOT_GENERATED": "plugins.io.validation",
    "OUTPUT_SIZE_EXCEEDED": "plugins.io.validation",
    "declares_outputs": "plugins.io.validation",
    "phase_info_for_output_error": "plugins.io.validation",
    "validate_output": "plugins.io.validation",
    "DEFAULT_MAX_DOWNLOAD_BYTES": "plugins.io.datastore",
    "CHECKPOINT_PREFIX": "plugins.io.paths",
    "INDEX_LOOKUP_SUFFIX": "plugins.io.paths",
    "PrecomputedRawOutputPaths": "plugins.io.paths",
    "PrecomputedShardSelector": "plugins.io.paths",
    "ShardSelector": "plugins.io.paths",
    "SimpleInputFilePaths": "plugins.io.paths",
    "attempt_raw_output_prefix": "plugins.io.paths",
    "base36_shard_selector": "plugins.io.paths",
    "construct_checkpoint_path": "plugins.io.paths",
    "fnv32a": "plugins.io.paths",
    "generate_alphabet": "plugins.io.paths",
    "generate_arabic_numerals": "plugins.io.paths",
    "get_index_lookup_path": "plugins.io.paths",
    "get_task_template_path": "plugins.io.paths",
    "new_deterministic_unique_raw_output_path": "plugins.io.paths",
    "new_raw_output_paths": "plugins.io.paths",
    "new_sharded_deterministic_raw_output_path": "plugins.io.paths",
    "new_sharded_raw_output_path": "plugins.io.paths",
    "new_task_id_raw_output_path": "plugins.io.paths",
    "previous_checkpoint_path": "plugins.io.paths",
}


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

__getattr__ = _lazy_exports(__name__, _EXPORTS, _MOVED)
