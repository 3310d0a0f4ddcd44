"""plugins.errors: the one hierarchy, its codes and its builtin bases."""

from __future__ import annotations

import pytest

from plugins import errors
from plugins.errors import (
    ContentionError,
    ExecutionExistsError,
    ExecutionNotFoundError,
    ExecutionTimeoutError,
    FlyteCeleryError,
    InvalidSubmissionError,
)


@pytest.mark.parametrize(
    ("cls", "code", "builtin"),
    [
        (ExecutionNotFoundError, "ExecutionNotFound", LookupError),
        (InvalidSubmissionError, "InvalidSubmission", ValueError),
        (ExecutionExistsError, "ExecutionExists", None),
        (ContentionError, "Contention", None),
        (ExecutionTimeoutError, "ExecutionTimeout", TimeoutError),
    ],
)
def test_execution_errors_codes_and_bases(
    cls: type[FlyteCeleryError], code: str, builtin: type[Exception] | None
) -> None:
    err = cls("execution p/d/n: went wrong")
    assert isinstance(err, FlyteCeleryError)
    assert err.code == code
    assert err.message == "execution p/d/n: went wrong"
    assert str(err) == "execution p/d/n: went wrong"
    if builtin is not None:
        assert isinstance(err, builtin)
        with pytest.raises(builtin):
            raise err
    assert cls("m", code="Other").code == "Other"


def test_execution_not_found_is_not_quoted_like_key_error() -> None:
    err = ExecutionNotFoundError("no execution 'p/d/n'")
    assert str(err) == "no execution 'p/d/n'"
    assert repr(err) != str(err)


def test_contention_error_is_not_a_storage_or_value_error() -> None:
    err = ContentionError("too many concurrent writers")
    assert not isinstance(err, errors.StorageError | ValueError | LookupError)


def test_every_exported_error_derives_from_the_root_and_has_a_code() -> None:
    codes: dict[str, str] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, FlyteCeleryError), name
        assert isinstance(cls.code, str) and cls.code, name
        codes[name] = cls.code
    # New classes get their own code, never a parent's.
    for name in (
        "ContentionError",
        "ExecutionExistsError",
        "ExecutionNotFoundError",
        "InvalidSubmissionError",
    ):
        assert list(codes.values()).count(codes[name]) == 1, name


def test_module_docstring_tree_names_every_class() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} is missing from the tree in plugins/errors.py"
