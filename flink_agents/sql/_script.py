"""SQL files: statements in order, with ``INCLUDE 'file.sql'`` expanded and ``${VAR}`` filled.

``INCLUDE 'path'`` reads another file in its place (a path relative to the including file);
a file that includes itself, directly or not, is an error. ``${NAME}`` in a statement is the
environment variable ``NAME`` (``${NAME:-default}`` when it may be unset); ``${PYTHON}``
defaults to this interpreter and ``${KAFKA_BOOTSTRAP_SERVERS}`` to the configured broker.

>>> expand("'${A}-${B:-two}'", {"A": "one"}, Position("x.sql", 1, 1))
"'one-two'"
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

from sqlglot.tokenizer_core import TokenType

from flink_agents.sql._errors import Position, SqlError
from flink_agents.sql._tokens import Statement, Tok, split

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load(path: Path, variables: Mapping[str, str]) -> list[Statement]:
    """The statements of the file at ``path``, includes expanded, variables filled."""
    return _load(path.resolve(), variables, (), _shown(path))


def from_text(text: str, file: str, variables: Mapping[str, str], base: Path) -> list[Statement]:
    """The statements of ``text`` (typed in a shell); includes are relative to ``base``."""
    return _expand_all(split(text, file), variables, base, ())


def _load(
    path: Path, variables: Mapping[str, str], chain: tuple[Path, ...], shown: str
) -> list[Statement]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SqlError(f"cannot read {shown}: {exc.strerror}", Position(shown, 1, 1)) from None
    return _expand_all(split(text, shown), variables, path.parent, (*chain, path))


def _expand_all(
    statements: list[Statement],
    variables: Mapping[str, str],
    base: Path,
    chain: tuple[Path, ...],
) -> list[Statement]:
    out: list[Statement] = []
    for stmt in statements:
        words = [t.word for t in stmt.tokens]
        if words[:1] != ["INCLUDE"]:
            out.append(fill(stmt, variables))
            continue
        if len(stmt.tokens) != 2 or stmt.tokens[1].kind is not TokenType.STRING:
            raise SqlError("write INCLUDE 'path/to/file.sql'", stmt.where)
        target = (base / expand(stmt.tokens[1].text, variables, stmt.tokens[1].where)).resolve()
        if target in chain:
            raise SqlError(f"{_shown(target)} includes itself", stmt.tokens[1].where)
        if not target.is_file():
            raise SqlError(f"no such file to include: {_shown(target)}", stmt.tokens[1].where)
        out += _load(target, variables, chain, _shown(target))
    return out


def fill(stmt: Statement, variables: Mapping[str, str]) -> Statement:
    """The statement with ``${VAR}`` filled in its text and in its string tokens."""
    if "${" not in stmt.text:
        return stmt
    tokens = tuple(
        dataclasses.replace(t, text=expand(t.text, variables, t.where))
        if t.kind is TokenType.STRING
        else t
        for t in stmt.tokens
    )
    return Statement(stmt.text, tokens, stmt.source)


def expand(text: str, variables: Mapping[str, str], where: Position) -> str:
    """``text`` with each ``${NAME}`` or ``${NAME:-default}`` replaced."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise SqlError(
            f"variable ${{{name}}} is not set: export {name}, or write ${{{name}:-default}}", where
        )

    return _VARIABLE.sub(value, text)


def expand_text(stmt: Statement, variables: Mapping[str, str]) -> str:
    """The statement's text with variables filled (for statements passed to Flink)."""
    return expand(stmt.text, variables, stmt.where)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["Tok", "expand", "expand_text", "fill", "from_text", "load"]
