"""The files a task's process leaves in its folder are read only as regular files.

The worker reads them with its own rights; the task, which owns the folder, may have
replaced one with a symbolic link to a file only the worker can read, or with a pipe.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins.builtin.task_process import read_own, tail_of


def test_a_regular_file_is_read_whole_or_its_tail(tmp_path: Path) -> None:
    own = tmp_path / "outcome.json"
    own.write_bytes(b"0123456789")
    assert read_own(own) == b"0123456789"
    assert read_own(own, tail=3) == b"789"
    assert tail_of(own) == "0123456789"


def test_a_link_is_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "worker-only"
    secret.write_text("the worker's secret")
    link = tmp_path / "output.log"
    link.symlink_to(secret)
    with pytest.raises(OSError, match="symbolic links") as refused:
        read_own(link)
    assert "secret" not in str(refused.value)
    assert tail_of(link) == ""  # the task's log is then empty, not the secret


def test_a_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "outputs.pb"
    os.mkfifo(pipe)
    with pytest.raises(OSError, match="not a regular file"):
        read_own(pipe)
    assert tail_of(pipe) == ""
