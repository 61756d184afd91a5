"""A Flink row type as an agent's output schema (the option ``output.row``).

``ROW<decision STRING NOT NULL, reason STRING 'why, in one sentence'>`` (or the fields
alone: ``decision STRING NOT NULL, reason STRING``) becomes the JSON Schema of a flat
object: a ``NOT NULL`` field is required, a nullable one optional, a field's description
(a string after its type, or ``COMMENT '...'``) is what the model reads about it.

>>> schema = row_schema("ROW<decision STRING NOT NULL, score DOUBLE 'from 0 to 1'>")
>>> schema["properties"]
{'decision': {'type': 'string'}, 'score': {'type': 'number', 'description': 'from 0 to 1'}}
>>> schema["required"]
['decision']
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|('(?:[^']|'')*')|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|(.))")
_SCALARS = {
    "STRING": "string",
    "VARCHAR": "string",
    "CHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "integer",
    "SMALLINT": "integer",
    "INT": "integer",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "FLOAT": "number",
    "DOUBLE": "number",
    "DECIMAL": "number",
    "DEC": "number",
    "NUMERIC": "number",
}
SUPPORTED = (
    "STRING, VARCHAR, CHAR, BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL "
    "and ARRAY<...> of these"
)


class RowTypeError(ValueError):
    """The text is not a row type this option takes; the message says what is wrong."""


def row_schema(text: str) -> dict[str, Any]:
    """The JSON Schema of the flat object a row type describes.

    >>> row_schema("tags ARRAY<STRING> NOT NULL")["properties"]["tags"]
    {'type': 'array', 'items': {'type': 'string'}}
    >>> row_schema("code VARCHAR(8) COMMENT 'the code'")["properties"]["code"]
    {'type': 'string', 'description': 'the code'}
    """
    reader = _Reader(text)
    closing = None
    if reader.peek_word() == "ROW" and reader.peek(1) in ("<", "("):
        reader.take()
        closing = ">" if reader.take() == "<" else ")"
    properties: dict[str, Any] = {}
    required: list[str] = []
    while True:
        name = reader.name()
        if name in properties:
            raise RowTypeError(f"field {name} is given twice")
        prop = reader.type_of(name)
        if reader.not_null():
            required.append(name)
        description = reader.description()
        if description:
            prop["description"] = description
        properties[name] = prop
        if reader.peek() != ",":
            break
        reader.take()
    if closing is not None:
        reader.expect(closing)
    if reader.peek() is not None:
        raise RowTypeError(f"unexpected {reader.peek()!r} after field {name}")
    return {"type": "object", "title": "Output", "properties": properties, "required": required}


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        for match in _TOKEN.finditer(text.strip()):
            self.tokens.append(next(g for g in match.groups() if g is not None))
        if not self.tokens:
            raise RowTypeError("a row type names at least one field, e.g. 'answer STRING'")
        self.at = 0

    def peek(self, ahead: int = 0) -> str | None:
        at = self.at + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def peek_word(self) -> str:
        return (self.peek() or "").upper()

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise RowTypeError("the row type ends too early")
        self.at += 1
        return token

    def expect(self, token: str) -> None:
        got = self.peek()
        if got != token:
            raise RowTypeError(f"expected {token!r}, got {got or 'the end'!r}")
        self.at += 1

    def name(self) -> str:
        token = self.take()
        if token.startswith("`"):
            return token[1:-1].replace("``", "`")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
            raise RowTypeError(f"expected a field name, got {token!r}")
        return token

    def type_of(self, field: str) -> dict[str, Any]:
        word = self.take().upper()
        if word == "ARRAY":
            self.expect("<")
            items = self.type_of(field)
            self.not_null()  # an element's nullability: the model's list has no nulls anyway
            self.expect(">")
            return {"type": "array", "items": items}
        if word not in _SCALARS:
            raise RowTypeError(f"field {field}: type {word} is not supported (use {SUPPORTED})")
        if self.peek() == "(":  # VARCHAR(20), DECIMAL(10, 2): the JSON type is the same
            while self.take() != ")":
                pass
        return {"type": _SCALARS[word]}

    def not_null(self) -> bool:
        if self.peek_word() == "NOT" and (self.peek(1) or "").upper() == "NULL":
            self.at += 2
            return True
        if self.peek_word() == "NULL":
            self.at += 1
        return False

    def description(self) -> str | None:
        if self.peek_word() == "COMMENT":
            self.take()
        token = self.peek()
        if token is None or not token.startswith("'"):
            return None
        self.at += 1
        return token[1:-1].replace("''", "'")


__all__ = ["SUPPORTED", "RowTypeError", "row_schema"]
