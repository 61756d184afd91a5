"""A small recursive-descent parser for this project's statements; the rest is Flink's.

``parse`` looks at the first words of a statement: CREATE/ALTER/DROP/SHOW/DESCRIBE of
CONNECTION, MODEL, TOOL or AGENT, ``CREATE FUNCTION ... LANGUAGE PYTHON`` and ``SET`` are
read here; every other statement is returned as ``Flink`` and goes to Flink unchanged.

>>> from flink_agents.sql._tokens import split
>>> [stmt] = split("CREATE AGENT triage USING MODEL m USING PROMPT 'Decide.' "
...                "USING TOOLS t1, t2 WITH ('max_iterations' = '5')", "a.sql")
>>> agent = parse(stmt)
>>> agent.name.text, agent.model.text, [t.text for t in agent.tools]
('triage', 'm', ['t1', 't2'])
>>> agent.options["max_iterations"].value
'5'
>>> type(parse(split("CREATE TABLE t (a INT) WITH ('connector' = 'datagen')", "a.sql")[0])).__name__
'Flink'
"""

from __future__ import annotations

from sqlglot.tokenizer_core import TokenType

from flink_agents.sql._ast import (
    AlterAgent,
    Create,
    Describe,
    Drop,
    Flink,
    Kind,
    Name,
    Option,
    Parsed,
    PythonFunction,
    SetOption,
    Show,
)
from flink_agents.sql._errors import Position, SqlError
from flink_agents.sql._tokens import Statement, Tok

_KINDS: dict[str, Kind] = {
    "CONNECTION": "connection",
    "MODEL": "model",
    "TOOL": "tool",
    "AGENT": "agent",
}
_PLURALS: dict[str, Kind] = {f"{word}S": kind for word, kind in _KINDS.items()}
_NOT_NAMES = {
    TokenType.STRING,
    TokenType.NUMBER,
    TokenType.L_PAREN,
    TokenType.R_PAREN,
    TokenType.COMMA,
    TokenType.DOT,
    TokenType.EQ,
    TokenType.SEMICOLON,
    TokenType.L_BRACKET,
    TokenType.R_BRACKET,
}


def parse(statement: Statement) -> Parsed:
    """The statement as this project's AST, or ``Flink`` for one that Flink handles."""
    words = [t.word for t in statement.tokens[:5]]
    ours = (
        (words[:1] == ["CREATE"] and _created_kind(words) is not None)
        or (words[:2] == ["ALTER", "AGENT"])
        or (words[:1] == ["DROP"] and len(words) > 1 and words[1] in _KINDS)
        or (words[:1] == ["SHOW"] and len(words) > 1 and words[1] in {**_PLURALS, **_KINDS})
        or (words[:1] in (["DESCRIBE"], ["DESC"]) and len(words) > 1 and words[1] in _KINDS)
        or words[:1] in (["SET"], ["RESET"])
    )
    if ours:
        return _Parser(statement).statement()
    if words[:1] == ["CREATE"] and "FUNCTION" in words and _language(statement) == "PYTHON":
        return _Parser(statement).python_function()
    return Flink(statement)


def _created_kind(words: list[str]) -> Kind | None:
    for word in words[1:3]:  # CREATE [OR REPLACE is not supported] kind
        if word in _KINDS:
            return _KINDS[word]
    return None


def _language(statement: Statement) -> str:
    words = [t.word for t in statement.tokens]
    if "LANGUAGE" in words:
        index = words.index("LANGUAGE")
        if index + 1 < len(words):
            return words[index + 1]
    return ""


class _Parser:
    def __init__(self, statement: Statement) -> None:
        self.stmt = statement
        self.toks = statement.tokens
        self.i = 0

    # -- token helpers -----------------------------------------------------------------

    def _peek(self, ahead: int = 0) -> Tok | None:
        index = self.i + ahead
        return self.toks[index] if index < len(self.toks) else None

    def _here(self) -> Position:
        tok = self._peek()
        if tok is not None:
            return tok.where
        last = self.toks[-1]
        return Position(last.where.file, last.where.line, last.where.col + len(last.text))

    def _at(self, *words: str) -> bool:
        return all(
            (tok := self._peek(n)) is not None and tok.word == word for n, word in enumerate(words)
        )

    def _accept(self, *words: str) -> bool:
        if self._at(*words):
            self.i += len(words)
            return True
        return False

    def _expect(self, *words: str) -> None:
        if not self._accept(*words):
            raise SqlError(f"expected {' '.join(words)} here, found {self._found()}", self._here())

    def _found(self) -> str:
        tok = self._peek()
        if tok is None:
            return "the end of the statement"
        return f"'{tok.text}'" if tok.kind is not TokenType.STRING else f"the string '{tok.text}'"

    def _expect_kind(self, kind: TokenType, what: str) -> Tok:
        tok = self._peek()
        if tok is None or tok.kind is not kind:
            raise SqlError(f"expected {what} here, found {self._found()}", self._here())
        self.i += 1
        return tok

    def _name(self, what: str) -> Name:
        tok = self._peek()
        if tok is None or tok.kind in _NOT_NAMES:
            raise SqlError(f"expected {what} here, found {self._found()}", self._here())
        self.i += 1
        nxt = self._peek()
        if nxt is not None and nxt.kind is TokenType.DOT:
            raise SqlError(
                f"{what} must be a plain name: catalog and database prefixes are not supported",
                tok.where,
            )
        return Name(tok.text, tok.where)

    def _string(self, what: str) -> Option:
        tok = self._expect_kind(TokenType.STRING, f"{what} (a string in single quotes)")
        return Option(tok.text, tok.where)

    def _end(self) -> None:
        if self._peek() is not None:
            raise SqlError(
                f"unexpected {self._found()}: the statement should end here", self._here()
            )

    def _names(self, what: str) -> tuple[Name, ...]:
        names = [self._name(what)]
        while self._peek() is not None and self._peek().kind is TokenType.COMMA:  # type: ignore[union-attr]
            self.i += 1
            names.append(self._name(what))
        return tuple(names)

    def _options(self) -> tuple[dict[str, Option], dict[str, Position]]:
        """``( 'key' = 'value', ... )``: strings; a key given twice is an error."""
        self._expect_kind(TokenType.L_PAREN, "'(' to open the options")
        options: dict[str, Option] = {}
        keys: dict[str, Position] = {}
        if self._peek() is not None and self._peek().kind is TokenType.R_PAREN:  # type: ignore[union-attr]
            self.i += 1
            return options, keys
        while True:
            key = self._string("an option name")
            if key.value in options:
                raise SqlError(f"option '{key.value}' is given twice", key.where)
            self._expect_kind(TokenType.EQ, "'=' after the option name")
            options[key.value] = self._string(f"the value of option '{key.value}'")
            keys[key.value] = key.where
            tok = self._peek()
            if tok is not None and tok.kind is TokenType.COMMA:
                self.i += 1
                continue
            self._expect_kind(TokenType.R_PAREN, "',' or ')' in the options")
            return options, keys

    def _kind(self, table: dict[str, Kind], what: str) -> Kind:
        tok = self._peek()
        if tok is None or tok.word not in table:
            raise SqlError(f"expected {what} here, found {self._found()}", self._here())
        self.i += 1
        return table[tok.word]

    # -- statements --------------------------------------------------------------------

    def statement(self) -> Parsed:
        where = self._here()
        if self._accept("CREATE"):
            return self._create(where)
        if self._accept("ALTER", "AGENT"):
            return self._alter(where)
        if self._accept("DROP"):
            kind = self._kind(_KINDS, "CONNECTION, MODEL, TOOL or AGENT")
            if_exists = self._accept("IF", "EXISTS")
            name = self._name(f"the name of the {kind}")
            self._end()
            return Drop(kind, name, where, if_exists)
        if self._accept("SHOW"):
            kind = self._kind(_PLURALS, "CONNECTIONS, MODELS, TOOLS or AGENTS")
            self._end()
            return Show(kind, where)
        if self._accept("DESCRIBE") or self._accept("DESC"):
            kind = self._kind(_KINDS, "CONNECTION, MODEL, TOOL or AGENT")
            name = self._name(f"the name of the {kind}")
            self._end()
            return Describe(kind, name, where)
        return self._set(where)

    def _set(self, where: Position) -> SetOption:
        if self._accept("RESET"):
            reset = self._string("an option name").value if self._peek() is not None else None
            self._end()
            return SetOption(reset, None, where)
        self._expect("SET")
        key = self._string("an option name")
        self._expect_kind(TokenType.EQ, "'=' after the option name")
        value = self._string(f"the value of option '{key.value}'")
        self._end()
        return SetOption(key.value, value.value, where)

    def _create(self, where: Position) -> Create:
        if self._at("OR", "REPLACE"):
            raise SqlError("CREATE OR REPLACE is not supported: DROP, then CREATE", self._here())
        kind = self._kind(_KINDS, "CONNECTION, MODEL, TOOL or AGENT")
        if_not_exists = self._accept("IF", "NOT", "EXISTS")
        name = self._name(f"the name of the {kind}")
        parts: dict[str, object] = {}
        if kind == "model":
            if self._accept("INPUT"):
                parts["inputs"] = self._columns()
            if self._accept("OUTPUT"):
                parts["outputs"] = self._columns()
        elif kind == "tool":
            self._expect("USING")
            if self._accept("FUNCTION"):
                parts["using"], parts["target"] = "function", self._name("the function's name")
            elif self._accept("CONNECTION"):
                parts["using"], parts["target"] = "connection", self._name("the connection's name")
            else:
                raise SqlError(
                    f"expected FUNCTION or CONNECTION after USING, found {self._found()}",
                    self._here(),
                )
        elif kind == "agent":
            parts.update(self._agent_parts())
        comment = None
        if self._accept("COMMENT"):
            comment = self._string("the comment").value
        options: dict[str, Option] = {}
        keys: dict[str, Position] = {}
        if self._accept("WITH"):
            options, keys = self._options()
        self._end()
        return Create(
            kind,
            name,
            where,
            if_not_exists,
            options,
            keys,
            comment,
            **parts,  # type: ignore[arg-type]
        )

    def _agent_parts(self) -> dict[str, object]:
        parts: dict[str, object] = {}
        while self._accept("USING"):
            here = self._here()
            if self._accept("MODEL"):
                parts["model"] = self._name("the model's name")
            elif self._accept("PROMPT"):
                parts["prompt"] = self._string("the prompt")
            elif self._accept("TOOLS") or self._accept("TOOL"):
                parts["tools"] = self._names("a tool's name")
            elif self._accept("AGENTS"):
                parts["agents"] = self._names("an agent's name")
            else:
                raise SqlError(
                    f"expected MODEL, PROMPT, TOOLS or AGENTS after USING, found {self._found()}",
                    here,
                )
        return parts

    def _columns(self) -> tuple[tuple[str, str], ...]:
        """``(name TYPE, ...)`` of CREATE MODEL's INPUT and OUTPUT."""
        self._expect_kind(TokenType.L_PAREN, "'(' to open the column list")
        columns = []
        while True:
            name = self._name("a column name")
            type_tok = self._peek()
            if type_tok is None or type_tok.kind in _NOT_NAMES:
                raise SqlError(f"expected the type of column {name.text}", self._here())
            self.i += 1
            columns.append((name.text, type_tok.text.upper()))
            tok = self._peek()
            if tok is not None and tok.kind is TokenType.COMMA:
                self.i += 1
                continue
            self._expect_kind(TokenType.R_PAREN, "',' or ')' in the column list")
            return tuple(columns)

    def _alter(self, where: Position) -> AlterAgent:
        if_exists = self._accept("IF", "EXISTS")
        name = self._name("the agent's name")
        if self._accept("SET", "MODEL"):
            return self._done(
                AlterAgent(name, where, if_exists, "set_model", self._name("a model"))
            )
        if self._accept("SET", "PROMPT"):
            return self._done(
                AlterAgent(name, where, if_exists, "set_prompt", self._string("the prompt"))
            )
        if self._accept("ADD", "TOOL"):
            return self._done(AlterAgent(name, where, if_exists, "add_tool", self._name("a tool")))
        if self._accept("REMOVE", "TOOL"):
            return self._done(
                AlterAgent(name, where, if_exists, "remove_tool", self._name("a tool"))
            )
        if self._accept("SET"):
            options, keys = self._options()
            return self._done(
                AlterAgent(name, where, if_exists, "set_options", None, options, keys)
            )
        raise SqlError(
            "expected SET MODEL, SET PROMPT, ADD TOOL, REMOVE TOOL or SET (options), "
            f"found {self._found()}",
            self._here(),
        )

    def _done(self, parsed: AlterAgent) -> AlterAgent:
        self._end()
        return parsed

    def python_function(self) -> PythonFunction:
        where = self._here()
        self._expect("CREATE")
        self._accept("TEMPORARY")
        self._accept("SYSTEM")
        self._expect("FUNCTION")
        self._accept("IF", "NOT", "EXISTS")
        name = self._name("the function's name")
        self._expect("AS")
        path = self._string("the function's Python path ('module.function')")
        self._expect("LANGUAGE")
        self._expect("PYTHON")
        self._end()
        return PythonFunction(name, path, where, self.stmt)
