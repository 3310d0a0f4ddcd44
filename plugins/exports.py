"""A package's public names, imported when first used: one module ``__getattr__`` (PEP 562).

A package whose ``__init__`` imported every submodule would make each process that needs
one of them pay for all: the task launcher, which every isolated task run is forked
from, would hold pydantic, asyncio and the plugin registry it never uses, and each fork
would copy and tear down their memory. A package that uses :func:`lazy_exports` lists
its names in ``__all__`` (and imports them under ``TYPE_CHECKING`` for type checkers),
and each resolves on first access, from the submodule that defines it, to the very same
object an eager import would give.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports each public name when first used.

    Args:
        package: The package's ``__name__``.
        exports: Each submodule and the public names it defines.
    """
    homes = {name: module for module, names in exports.items() for name in names}

    def module_getattr(name: str) -> object:
        home = homes.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home), name)
            # Kept, so the next access is a plain attribute and this hook is not asked again.
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return module_getattr
