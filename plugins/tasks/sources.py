"""User code is read from its source on every load, never from a bytecode cache.

Python trusts a ``__pycache__`` file when its header matches the source's modification
time, in whole seconds, and its size. A task module edited twice within a second with the
same size (a one-character fix) would therefore run its old code, and so would a stale
``.pyc`` shipped in a code tarball. Task processes load user modules, the ones outside
the interpreter's own folders and ``site-packages``, with :class:`SourceOnlyLoader`,
which compiles the source each time and writes no cache. Installed packages keep their
caches: they change only when they are installed again.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable
from importlib.abc import PathEntryFinder
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    ExtensionFileLoader,
    FileFinder,
    SourceFileLoader,
    SourcelessFileLoader,
)
from types import CodeType
from typing import Any

__all__ = ["SourceOnlyLoader", "installed_roots", "is_installed", "read_user_code_fresh"]


_INSTALLED = ("stdlib", "platstdlib", "purelib", "platlib")


class SourceOnlyLoader(SourceFileLoader):
    """A source loader that compiles the file every time and neither reads nor writes ``.pyc``."""

    def get_code(self, fullname: str) -> CodeType:
        """The module's code, compiled from its source as it is now."""
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


@functools.cache
def installed_roots() -> tuple[str, ...]:
    """The folders of installed code: the standard library and every site-packages.

    Not the interpreter's whole prefix: user code may live under ``/usr/local`` too.
    """
    roots = {sysconfig.get_paths().get(k, "") for k in _INSTALLED}
    roots.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    if site.ENABLE_USER_SITE and site.USER_SITE:
        roots.add(site.USER_SITE)
    return tuple(sorted({os.path.realpath(r) for r in roots if r}))


def _within(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def is_installed(path: str, roots: Iterable[str]) -> bool:
    """Whether ``path`` lies inside one of ``roots`` (symbolic links resolved)."""
    return _within(path, roots) or _within(os.path.realpath(path or os.getcwd()), roots)


def _hook(roots: tuple[str, ...]) -> Callable[[str], PathEntryFinder]:
    loaders: list[tuple[Any, list[str]]] = [
        (ExtensionFileLoader, EXTENSION_SUFFIXES),
        (SourceOnlyLoader, SOURCE_SUFFIXES),
        (SourcelessFileLoader, BYTECODE_SUFFIXES),
    ]
    finder = FileFinder.path_hook(*loaders)

    def hook(path: str) -> PathEntryFinder:
        if is_installed(path, roots):
            raise ImportError("installed code: the default finder serves it")
        return finder(path)  # not a folder (a zip file...): ImportError, the next hook tries

    hook.source_only = True  # type: ignore[attr-defined]  # marks it, so it is installed once
    return hook


def read_user_code_fresh(roots: Iterable[str] | None = None) -> None:
    """From now on, modules outside ``roots`` (by default :func:`installed_roots`) load from source.

    The finders made before for folders outside ``roots`` are dropped, so those folders
    are looked at again; those of installed code stay (their code does not change, and
    a forked process that keeps them need not touch the memory it shares).
    """
    chosen = tuple(installed_roots() if roots is None else roots)
    if not any(getattr(h, "source_only", False) for h in sys.path_hooks):
        sys.path_hooks.insert(0, _hook(chosen))
    for path in [p for p in sys.path_importer_cache if not is_installed(p, chosen)]:
        del sys.path_importer_cache[path]
