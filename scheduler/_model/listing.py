"""Which executions a listing shows, and where one page of it ends.

The listing is newest first, by submission time. A :class:`Cursor` marks the last
execution of a page by its submission time *and* id, so the next page starts right
after it even when executions arrive meanwhile (an offset would repeat rows) or when
several share one submission instant (a time alone would skip some).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from plugins.core import Phase
from scheduler._model.record import ExecutionRecord

__all__ = ["Cursor", "ExecutionFilter"]


@dataclass(frozen=True)
class ExecutionFilter:
    """Executions matching every field given (``None``: any).

    Attributes:
        phase: The current phase.
        task_type: The template's task type.
        project: The project.
        domain: The domain.
        task_name: The task's name (the template's ``id.name``), exactly.
    """

    phase: Phase | None = None
    task_type: str | None = None
    project: str | None = None
    domain: str | None = None
    task_name: str | None = None

    def matches(self, record: ExecutionRecord) -> bool:
        """Whether ``record`` passes every field given."""
        for f in fields(self):
            wanted = getattr(self, f.name)
            if wanted is not None and getattr(record, f.name) != wanted:
                return False
        return True


@dataclass(frozen=True, order=True)
class Cursor:
    """The last execution of a page: its submission score (milliseconds) and id.

    Attributes:
        score: The execution's score in the index of all executions.
        id: The execution's id.
    """

    score: int
    id: str

    def __str__(self) -> str:
        return f"{self.score}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Read a cursor as :meth:`__str__` writes it (``"<score>:<id>"``).

        Raises:
            ValueError: ``text`` is not one; the message quotes it.
        """
        score, sep, exec_id = text.partition(":")
        if not sep or not exec_id or not score.isdigit():
            raise ValueError(f"malformed page cursor {text[:80]!r}: expected <number>:<id>")
        return cls(int(score), exec_id)
