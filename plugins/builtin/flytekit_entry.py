"""flytekit's container entrypoints, run in the task's (forked) process instead of a new one.

``pyflyte-execute`` and ``pyflyte-map-execute`` are click commands: they run here as
their console scripts would. ``pyflyte-fast-execute`` unpacks the code tarball and then
starts ``pyflyte-execute`` as a subprocess, only so that the new code is imported
fresh; a forked task process has never imported user code, so it unpacks the tarball
and runs the command itself, with flytekit's semantics (the unpacked folder joins
``PYTHONPATH`` after its other entries, and the dynamic-task arguments are added).

A launcher imported flytekit with its own environment, so the state flytekit made at
import is made again with the run's: its loggers (levels and format come from the
environment) and its default local file access (a temporary folder, now in the run's).
This module imports flytekit: import it only where flytekit is installed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from flytekit import loggers
from flytekit.bin import entrypoint
from flytekit.configuration import DataConfig
from flytekit.core import context_manager, data_persistence
from flytekit.tools.fast_registration import download_distribution

__all__ = ["COMMANDS", "run"]

COMMANDS: dict[str, Any] = {
    "pyflyte-execute": entrypoint.execute_task_cmd,
    "pyflyte-map-execute": entrypoint.map_execute_task_cmd,
}
"""The entrypoints that run a task, by their console script's name."""

FAST = "pyflyte-fast-execute"


def _made_again() -> None:
    for logger in (loggers.logger, loggers.user_space_logger, loggers.developer_logger):
        logger.handlers.clear()
    loggers.initialize_global_loggers()
    folder = tempfile.mkdtemp(prefix="flyte-")
    provider = data_persistence.FileAccessProvider(
        local_sandbox_dir=os.path.join(folder, "sandbox"),
        raw_output_prefix=os.path.join(folder, "raw"),
        data_config=DataConfig.auto(),
    )
    data_persistence.flyte_tmp_dir = folder
    data_persistence.default_local_file_access_provider = provider
    context_manager.default_local_file_access_provider = provider
    context_manager.FlyteContextManager.initialize()


def _join_path(folder: str) -> None:
    # Where a fresh interpreter would have it: right after the PYTHONPATH entries.
    listed = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    at = max((i + 1 for i, p in enumerate(sys.path) if p in listed), default=1)
    sys.path.insert(at, folder)
    os.environ["PYTHONPATH"] = os.pathsep.join([*listed, folder])


def _unpacked(args: Sequence[str]) -> list[str]:
    """Unpack a fast-registered task's code; the ``pyflyte-execute`` command to run then."""
    context = entrypoint.fast_execute_task_cmd.make_context(FAST, list(args))
    distribution = context.params["additional_distribution"]
    destination = context.params["dest_dir"]
    if distribution is not None:
        destination = destination or os.getcwd()
        download_distribution(distribution, destination)
    command: list[str] = []
    for arg in context.params["task_execute_cmd"]:
        if arg == "--resolver" and distribution is not None:
            command += ["--dynamic-addl-distro", distribution, "--dynamic-dest-dir", destination]
        command.append(arg)
    if destination is not None:
        _join_path(os.path.realpath(os.path.expanduser(destination)))
    return command


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"), as the interpreter reports it
    return 1


def run(args: Sequence[str], *, imported_before: bool) -> int:
    """Run the entrypoint ``args`` name, as its console script would; its exit code.

    Args:
        args: The entrypoint and its arguments (``pyflyte-execute --inputs ...``).
        imported_before: Whether flytekit was imported before this run's environment
            was set (in the launcher), so its import-time state is made again.
    """
    if imported_before:
        _made_again()
    command = list(args)
    try:
        if command[:1] == [FAST]:
            command = _unpacked(command[1:])
        entry = COMMANDS.get(command[0]) if command else None
        if entry is None:
            print(f"flyte-celery: not a flytekit entrypoint: {command[:1]}", file=sys.stderr)
            return 127
        entry.main(args=command[1:], prog_name=command[0], standalone_mode=True)
    except SystemExit as exc:
        return _exit_code(exc.code)
    return 0
