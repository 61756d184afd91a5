"""Tables a run has declared, by name, so an agent's output can be taken from one.

``'output.table' = 'decisions'`` makes the answer fields of an agent the physical columns
of ``decisions``: the ones ``CREATE TABLE`` lists with a type (computed and ``METADATA``
columns, ``WATERMARK`` and constraints are not answer fields), less those named in
``'output.table.except'`` (columns the statement fills from the input or the status). The
columns become a row type (``_rowtype.py``), so ``NOT NULL`` columns are required answer
fields and a column's ``COMMENT`` is what the model reads about it.

>>> from flink_agents.sql._tokens import split
>>> tables = Tables()
>>> tables.see(split(
...     "CREATE TABLE decisions (id STRING, decision STRING NOT NULL COMMENT 'APPROVE or BLOCK',"
...     " at AS PROCTIME()) WITH ('topic' = 'd')", "t.sql")[0])
>>> tables.answer_row("decisions", ("id",), Position("t.sql", 9, 1))
"decision STRING NOT NULL COMMENT 'APPROVE or BLOCK'"
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.tokenizer_core import TokenType

from flink_agents.sql._errors import Position, SqlError
from flink_agents.sql._tokens import Statement, Tok

#: Parts of a column list that are not columns.
_NOT_COLUMNS = frozenset({"WATERMARK", "PRIMARY", "CONSTRAINT", "PERIOD", "UNIQUE"})
#: Words that may follow a table's name in CREATE TABLE when no column list does.
_AFTER_NAME = frozenset({"WITH", "LIKE", "AS", "COMMENT", "PARTITIONED", "DISTRIBUTED"})


@dataclass(frozen=True)
class Column:
    name: str
    definition: str  # ``name TYPE [NOT NULL] [COMMENT '...']`` as written


@dataclass(frozen=True)
class Table:
    """A declared table: its physical columns, or why they cannot be read from its DDL."""

    name: str
    where: Position
    columns: tuple[Column, ...] = ()
    unreadable: str = ""


class Tables:
    """The tables of one run (a file with its includes, or a shell session), in order:
    ``CREATE TABLE`` declares one, ``DROP TABLE`` forgets it."""

    def __init__(self) -> None:
        self._tables: dict[str, Table] = {}

    def see(self, stmt: Statement) -> None:
        """Note the table a ``CREATE TABLE`` or ``DROP TABLE`` statement declares or drops."""
        words = [t.word for t in stmt.tokens[:6]]
        if words[:1] == ["DROP"] and "TABLE" in words[1:3]:
            name = _last_name(stmt.tokens[words.index("TABLE") + 1 :])
            if name is not None:
                self._tables.pop(name, None)
            return
        if words[:2] == ["CREATE", "TABLE"] or words[:3] == ["CREATE", "TEMPORARY", "TABLE"]:
            table = _declared(stmt)
            if table is not None:
                self._tables[table.name] = table

    def names(self) -> list[str]:
        return sorted(self._tables)

    def answer_row(self, name: str, excluded: tuple[str, ...], where: Position) -> str:
        """The row type of the answer fields ``'output.table' = name`` gives: the table's
        physical columns less ``excluded``. Errors are at ``where`` (the option's value)."""
        table = self._tables.get(name)
        if table is None:
            known = ", ".join(self.names()) or "none yet"
            raise SqlError(
                f"'output.table': no table {name!r} is declared before this statement "
                f"(declared: {known}); CREATE TABLE it first in this file, an included one or "
                "this shell session",
                where,
            )
        if table.unreadable:
            raise SqlError(
                f"'output.table': the columns of table {name} (declared at {table.where}) "
                f"cannot be read: {table.unreadable}",
                where,
            )
        columns = {c.name: c for c in table.columns}
        unknown = [c for c in excluded if c not in columns]
        if unknown:
            raise SqlError(
                f"'output.table.except' names {', '.join(unknown)}, not columns of table "
                f"{name} ({', '.join(columns)})",
                where,
            )
        kept = [c.definition for c in table.columns if c.name not in excluded]
        if not kept:
            raise SqlError(
                f"'output.table': every column of table {name} is excluded; the answer needs "
                "at least one field",
                where,
            )
        return ", ".join(kept)

    def where_declared(self, name: str) -> Position | None:
        table = self._tables.get(name)
        return table.where if table is not None else None


def _declared(stmt: Statement) -> Table | None:
    """The table a CREATE TABLE statement declares, with its physical columns."""
    toks = stmt.tokens
    stop = next(
        (i for i, t in enumerate(toks) if t.kind is TokenType.L_PAREN or t.word in _AFTER_NAME),
        len(toks),
    )
    name = _last_name(toks[:stop])
    if name is None:
        return None
    if _at_top(toks, ("LIKE", "AS")):
        why = "it takes them from another table or a query (LIKE, AS); list them in CREATE TABLE"
        return Table(name, stmt.where, unreadable=why)
    if stop == len(toks) or toks[stop].kind is not TokenType.L_PAREN:
        return Table(name, stmt.where, unreadable="its CREATE TABLE lists no columns")
    segments, _closing = _segments(toks, stop)
    columns = [c for c in (_column(stmt, s) for s in segments) if c is not None]
    return Table(name, stmt.where, tuple(columns))


def _at_top(toks: tuple[Tok, ...], words: tuple[str, ...]) -> bool:
    """Whether one of ``words`` is outside parentheses."""
    depth = 0
    for tok in toks:
        if tok.kind is TokenType.L_PAREN:
            depth += 1
        elif tok.kind is TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and tok.word in words:
            return True
    return False


def _segments(toks: tuple[Tok, ...], opening: int) -> tuple[list[list[Tok]], int]:
    """The parts of the column list between top-level commas, and where the list closes."""
    segments: list[list[Tok]] = [[]]
    depth = 0
    for index in range(opening + 1, len(toks)):
        tok = toks[index]
        if tok.kind in (TokenType.L_PAREN, TokenType.LT):
            depth += 1
        elif tok.kind is TokenType.R_PAREN:
            if depth == 0:
                return [s for s in segments if s], index
            depth -= 1
        elif tok.kind is TokenType.GT and depth > 0:
            depth -= 1
        elif tok.kind is TokenType.COMMA and depth == 0:
            segments.append([])
            continue
        segments[-1].append(tok)
    return [s for s in segments if s], len(toks) - 1


def _column(stmt: Statement, segment: list[Tok]) -> Column | None:
    """A physical column, or None for a computed or metadata column or a constraint."""
    if _first_word(segment[0]) in _NOT_COLUMNS or len(segment) < 2:
        return None
    if segment[1].word == "AS" or any(t.word == "METADATA" for t in segment):
        return None
    end = next(
        (i for i, t in enumerate(segment) if _first_word(t) in ("PRIMARY", "CONSTRAINT")),
        len(segment),
    )
    return Column(segment[0].text, stmt.slice(segment[0], segment[end - 1]))


def _first_word(tok: Tok) -> str:
    """A keyword's first word (sqlglot reads ``PRIMARY KEY`` as one token)."""
    return tok.word.split(" ", 1)[0]


def _last_name(toks: tuple[Tok, ...] | list[Tok]) -> str | None:
    """The table's own name in ``[IF [NOT] EXISTS] [catalog.][db.]name``."""
    names = [t for t in toks if t.kind in (TokenType.VAR, TokenType.IDENTIFIER) or t.word]
    keywords = {"CREATE", "TEMPORARY", "TABLE", "IF", "NOT", "EXISTS", "DROP", "."}
    names = [t for t in names if t.kind is not TokenType.DOT and t.word not in keywords]
    return names[-1].text if names else None


__all__ = ["Column", "Table", "Tables"]
