"""Errors of the SQL front: every one names the file, line and column it is about."""

from __future__ import annotations

from dataclasses import dataclass

from flink_agents.errors import FatalError


@dataclass(frozen=True)
class Position:
    """Where something is in a SQL text: a file (or ``<stdin>``), a line and a column (from 1).

    >>> str(Position("sql/fraud.sql", 3, 14))
    'sql/fraud.sql:3:14'
    """

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class SqlError(FatalError):
    """A statement that cannot be parsed, resolved or run; the message starts with its place.

    >>> str(SqlError("unknown model 'm'", Position("a.sql", 2, 5)))
    "a.sql:2:5: unknown model 'm'"
    """

    def __init__(self, message: str, where: Position) -> None:
        super().__init__(f"{where}: {message}")
        self.message = message
        self.where = where
