"""scheduler._model.execution_id: every part is one safe storage path segment."""

from __future__ import annotations

import pytest

from scheduler._model import execution_id


def test_a_valid_id() -> None:
    assert (
        execution_id("flytesnacks", "development", "a-b_c.1") == "flytesnacks/development/a-b_c.1"
    )


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("..", "..", "x"), "execution project must not be '.' or '..'"),
        (("p", ".", "x"), "execution domain must not be '.' or '..'"),
        (("a/./..", "d", "x"), "execution project must not contain '/'"),
        (("p", "d", "x\\y"), "execution name must not contain '/'"),
        (("p", "d", "x\x00y"), "control characters"),
        (("p", "", "x"), "execution domain must not be empty"),
        (("p", "d", "n" * 256), "execution name must be at most 255 characters, got 256"),
    ],
)
def test_ids_that_would_escape_or_share_a_directory_are_refused(
    parts: tuple[str, str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        execution_id(*parts)


def test_a_non_string_part_is_named() -> None:
    with pytest.raises(ValueError, match="execution project must be a string, got int"):
        execution_id(3, "d", "n")  # type: ignore[arg-type]


def test_text_that_is_not_valid_unicode_is_refused() -> None:
    with pytest.raises(ValueError, match="execution project must be valid Unicode text"):
        execution_id("\ud800", "d", "n")
