"""Names that moved keep resolving for a while: one module ``__getattr__`` for every package.

When a public name moves to another module, the package it left keeps it reachable,
with a :class:`DeprecationWarning` that says where it lives now, until the next minor
release; the package's ``__all__`` no longer lists it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping

__all__ = ["moved_names"]


def moved_names(
    package: str, moved: Mapping[str, str], *, stacklevel: int = 2
) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that finds each moved name in its new module.

    Args:
        package: The package the names left, for the messages.
        moved: Each moved name and the module that holds it now.
        stacklevel: Where the warning points: 2 is the code that asked for the name
            (one more when another ``__getattr__`` calls this one).
    """

    def module_getattr(name: str) -> object:
        home = moved.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        warnings.warn(
            f"{package}.{name} moved to {home}.{name}; import it from there",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return getattr(importlib.import_module(home), name)

    return module_getattr
