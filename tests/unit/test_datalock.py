"""One stack per data folder: a second is refused at once, naming the first."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from plugins.errors import ConfigError
from scheduler.cli.datalock import DataFolderLock


def at_noon() -> datetime:
    return datetime(2026, 12, 5, 12, 0).astimezone()


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    first = DataFolderLock(folder, clock=at_noon)
    first.acquire()
    second = DataFolderLock(folder)
    with pytest.raises(ConfigError) as refused:
        second.acquire()
    message = str(refused.value)
    assert f"data folder {folder} is in use by another stack" in message
    assert f"pid {os.getpid()}, since 2026-12-05T12:00:00" in message
    assert "--data-dir" in message
    first.release()
    second.acquire()  # free again
    second.release()
    first.release()  # twice is harmless
