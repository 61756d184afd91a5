"""Flink SQL text into tokens with their places, and statements split at semicolons.

The tokenizer is sqlglot's, set up for Flink's lexical rules: strings in single quotes with
``''`` as the escape (a backslash is an ordinary character), identifiers in backticks,
``--`` and ``/* */`` comments. A semicolon inside a string, identifier or comment does not
end a statement.

>>> [s.text for s in split("SELECT ';' AS a; -- done;\\nSHOW AGENTS;", "x.sql")]
["SELECT ';' AS a", 'SHOW AGENTS']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType
from sqlglot.tokens import Tokenizer

from flink_agents.sql._errors import Position, SqlError


class _FlinkTokenizer(Tokenizer):
    QUOTES = ["'"]
    IDENTIFIERS = ["`"]
    STRING_ESCAPES = ["'"]
    COMMENTS = ["--", ("/*", "*/")]
    # sqlglot reads the rest of a SHOW or EXECUTE statement as one string; Flink does not.
    COMMANDS: ClassVar[set[TokenType]] = set()


@dataclass(frozen=True)
class Tok:
    """One token: its kind, its text (strings and identifiers unquoted) and its place."""

    kind: TokenType
    text: str
    start: int
    end: int  # exclusive
    where: Position

    @property
    def word(self) -> str:
        """The token as a keyword, upper case (identifiers in backticks are never keywords)."""
        return "" if self.kind in (TokenType.STRING, TokenType.IDENTIFIER) else self.text.upper()


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text (without the semicolon) and its tokens."""

    text: str
    tokens: tuple[Tok, ...]
    source: str  # the whole text the offsets refer to

    @property
    def where(self) -> Position:
        return self.tokens[0].where

    def slice(self, first: Tok, last: Tok) -> str:
        """The original text from ``first`` to ``last``, both included."""
        return self.source[first.start : last.end]


def tokenize(text: str, file: str) -> list[Tok]:
    """The tokens of ``text``, each with its file, line and column."""
    _check_closed(text, file)
    try:
        raw: list[Token] = _FlinkTokenizer().tokenize(text)
    except TokenError as exc:
        raise SqlError(f"cannot read this SQL: {exc}", Position(file, 1, 1)) from None
    lines = _line_starts(text)
    return [
        Tok(t.token_type, t.text, t.start, t.end + 1, _position(lines, t.start, file)) for t in raw
    ]


def split(text: str, file: str) -> list[Statement]:
    """The statements of ``text``: split at semicolons outside strings and comments."""
    out: list[Statement] = []
    current: list[Tok] = []
    for tok in tokenize(text, file):
        if tok.kind is TokenType.SEMICOLON:
            if current:
                out.append(_statement(current, text))
            current = []
        else:
            current.append(tok)
    if current:
        out.append(_statement(current, text))
    return out


def position_of(text: str, offset: int, file: str) -> Position:
    return _position(_line_starts(text), offset, file)


def _statement(tokens: list[Tok], text: str) -> Statement:
    return Statement(text[tokens[0].start : tokens[-1].end], tuple(tokens), text)


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _position(lines: list[int], offset: int, file: str) -> Position:
    lo, hi = 0, len(lines) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if lines[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return Position(file, lo + 1, offset - lines[lo] + 1)


_OPENERS = re.compile(r"--[^\n]*|/\*|'|`")


def _check_closed(text: str, file: str) -> None:
    """Name the place of a string, identifier or comment that is never closed."""
    index = 0
    while (match := _OPENERS.search(text, index)) is not None:
        opener = match.group()
        if opener.startswith("--"):
            index = match.end()
            continue
        closer = {"/*": "*/", "'": "'", "`": "`"}[opener]
        end = match.end()
        while True:
            found = text.find(closer, end)
            if found < 0:
                what = {"/*": "comment", "'": "string", "`": "identifier"}[opener]
                where = position_of(text, match.start(), file)
                raise SqlError(f"this {what} is never closed (missing {closer})", where)
            if closer in "'`" and text.startswith(closer * 2, found):
                end = found + 2  # a doubled quote is an escaped one
                continue
            index = found + len(closer)
            break
