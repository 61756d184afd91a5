"""Find ``LATERAL TABLE(AI_RUN_AGENT(...)) AS r(status, response)`` in a statement.

The call is not run per row: the job builder turns the table it reads into the agent's
input stream and the agent's results into a view, and the statement reads that view in
place of the table and the call. This module only reads the statement:

>>> from flink_agents.sql._tokens import split
>>> [stmt] = split(
...     "INSERT INTO d SELECT t.id, r.status, r.response FROM tx AS t, LATERAL TABLE("
...     "AI_RUN_AGENT('triage', t.prompt, t.id, MAP['memory.key', t.card])) AS r(status, response)",
...     "a.sql")
>>> call = find_call(stmt)
>>> call.agent.text, call.input, call.request_id, call.memory_key, call.source, call.alias
('triage', 't.prompt', 't.id', 't.card', 'tx', 't')
>>> call.rewrite(stmt, "results_1")
'INSERT INTO d SELECT t.id, t.status, t.response FROM results_1 AS t'
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.tokenizer_core import TokenType

from flink_agents.sql._ast import Name
from flink_agents.sql._errors import SqlError
from flink_agents.sql._tokens import Statement, Tok

FUNCTION = "AI_RUN_AGENT"
MAP_KEYS = ("memory.key",)


@dataclass(frozen=True)
class AgentCall:
    """One ``AI_RUN_AGENT`` call and the table it reads."""

    agent: Name
    input: str
    request_id: str
    memory_key: str | None
    source: str  # the table, view or subquery before the call
    alias: str  # its alias as written (the table's name when it has none)
    result_alias: Tok
    columns: tuple[Name, ...]  # the result's column names: status, response
    span: tuple[int, int]  # offsets in the statement's source of ``source ... )``
    call: Tok

    def rewrite(self, stmt: Statement, view: str) -> str:
        """The statement reading ``view`` (the source's columns and the result's) instead."""
        base = stmt.tokens[0].start
        edits = [(self.span[0], self.span[1], f"{view} AS {self.alias}")]
        toks = stmt.tokens
        for i, tok in enumerate(toks):
            if self.span[0] <= tok.start < self.span[1]:
                continue
            qualifier = tok.text == self.result_alias.text and tok.kind is self.result_alias.kind
            follows_dot = i > 0 and toks[i - 1].kind is TokenType.DOT
            if (
                qualifier
                and not follows_dot
                and i + 1 < len(toks)
                and toks[i + 1].kind is TokenType.DOT
            ):
                edits.append((tok.start, tok.end, self.alias))
        text = stmt.source
        out, at = [], base
        for start, end, replacement in sorted(edits):
            out += [text[at:start], replacement]
            at = end
        out.append(text[at : toks[-1].end])
        return "".join(out)


def find_call(stmt: Statement) -> AgentCall | None:
    """The statement's AI_RUN_AGENT call, or None; more than one is an error."""
    toks = stmt.tokens
    calls = [i for i, t in enumerate(toks) if t.word == FUNCTION]
    if not calls:
        return None
    if len(calls) > 1:
        raise SqlError(
            f"one {FUNCTION} per statement: chain agents through views "
            f"(CREATE VIEW v AS SELECT ... {FUNCTION} ...)",
            toks[calls[1]].where,
        )
    return _read_call(stmt, calls[0])


def _read_call(stmt: Statement, at: int) -> AgentCall:
    toks = stmt.tokens
    call = toks[at]
    shape = (
        f"write FROM t, LATERAL TABLE({FUNCTION}('agent', input, request_id)) "
        "AS r(status, response)"
    )
    if at < 3 or [t.word for t in toks[at - 3 : at]] != ["LATERAL", "TABLE", "("]:
        raise SqlError(f"{FUNCTION} is a table function: {shape}", call.where)
    lateral = at - 3
    # What joins the call to the table before it: a comma or CROSS JOIN.
    if lateral >= 1 and toks[lateral - 1].kind is TokenType.COMMA:
        left_end = lateral - 1
    elif lateral >= 2 and [t.word for t in toks[lateral - 2 : lateral]] == ["CROSS", "JOIN"]:
        left_end = lateral - 2
    else:
        raise SqlError(shape, toks[lateral].where)
    left_start = _from_item_start(toks, left_end, call)
    source, alias = _source_and_alias(stmt, toks[left_start:left_end], call)
    args, close = _arguments(toks, at + 1)
    if len(args) not in (3, 4):
        raise SqlError(
            f"{FUNCTION} takes ('agent', input, request_id [, MAP['memory.key', key]]), "
            f"got {len(args)} arguments",
            call.where,
        )
    agent_arg = args[0]
    if len(agent_arg) != 1 or agent_arg[0].kind is not TokenType.STRING:
        raise SqlError(
            "the first argument of AI_RUN_AGENT is the agent's name, in quotes", agent_arg[0].where
        )
    memory_key = _map_argument(stmt, args[3]) if len(args) == 4 else None
    # ``) AS r (status, response)`` after the call's own closing parenthesis.
    i = close + 1
    if i >= len(toks) or toks[i].kind is not TokenType.R_PAREN:
        raise SqlError(f"expected ')' to close TABLE(...): {shape}", _at(toks, i, call).where)
    i += 1
    if i < len(toks) and toks[i].word == "AS":
        i += 1
    if i >= len(toks) or toks[i].kind not in (TokenType.VAR, TokenType.IDENTIFIER):
        raise SqlError(f"the result needs an alias: {shape}", _at(toks, i, call).where)
    result_alias = toks[i]
    i += 1
    columns: tuple[Name, ...] = (
        Name("status", result_alias.where),
        Name("response", result_alias.where),
    )
    end = result_alias.end
    if i < len(toks) and toks[i].kind is TokenType.L_PAREN:
        names, close_cols = _arguments(toks, i)
        if len(names) != 2 or any(len(n) != 1 for n in names):
            raise SqlError("the result has two columns: AS r(status, response)", toks[i].where)
        columns = (
            Name(names[0][0].text, names[0][0].where),
            Name(names[1][0].text, names[1][0].where),
        )
        end = toks[close_cols].end
        i = close_cols + 1
    if i < len(toks) and toks[i].kind is TokenType.COMMA:
        raise SqlError(
            f"join other tables to the result of {FUNCTION} in a later statement (a view)",
            toks[i].where,
        )
    return AgentCall(
        agent=Name(agent_arg[0].text, agent_arg[0].where),
        input=_text(stmt, args[1]),
        request_id=_text(stmt, args[2]),
        memory_key=memory_key,
        source=source,
        alias=alias,
        result_alias=result_alias,
        columns=columns,
        span=(toks[left_start].start, end),
        call=call,
    )


def _at(toks: tuple[Tok, ...], i: int, fallback: Tok) -> Tok:
    return toks[i] if i < len(toks) else fallback


def _from_item_start(toks: tuple[Tok, ...], end: int, call: Tok) -> int:
    """The index after the FROM that starts the table item ending before ``end``."""
    depth = 0
    for i in range(end - 1, -1, -1):
        tok = toks[i]
        if tok.kind is TokenType.R_PAREN:
            depth += 1
        elif tok.kind is TokenType.L_PAREN:
            depth -= 1
        elif depth == 0 and tok.word == "FROM":
            return i + 1
        elif depth == 0 and (tok.kind is TokenType.COMMA or tok.word == "JOIN"):
            raise SqlError(
                f"{FUNCTION} reads one table: put joins in a view and read the view",
                tok.where,
            )
    raise SqlError(f"{FUNCTION} must follow FROM <table> [AS alias], ", call.where)


def _source_and_alias(stmt: Statement, item: tuple[Tok, ...], call: Tok) -> tuple[str, str]:
    if not item:
        raise SqlError(
            f"{FUNCTION} needs a table before it: FROM t, LATERAL TABLE(...)", call.where
        )
    names = (TokenType.VAR, TokenType.IDENTIFIER)
    if len(item) >= 3 and item[-2].word == "AS" and item[-1].kind in names:
        body, alias_tok = item[:-2], item[-1]
    elif len(item) >= 2 and item[-1].kind in names and item[-2].kind in (*names, TokenType.R_PAREN):
        body, alias_tok = item[:-1], item[-1]
    else:
        body, alias_tok = item, item[-1]
    if body[0].kind is TokenType.L_PAREN and alias_tok is item[-1] and body is item:
        raise SqlError("a subquery before AI_RUN_AGENT needs an alias", item[0].where)
    alias = stmt.slice(alias_tok, alias_tok)
    return stmt.slice(body[0], body[-1]), alias


def _arguments(toks: tuple[Tok, ...], open_at: int) -> tuple[list[tuple[Tok, ...]], int]:
    """The top-level comma-separated items of the parentheses opening at ``open_at``."""
    args: list[tuple[Tok, ...]] = []
    current: list[Tok] = []
    depth = 0
    for i in range(open_at + 1, len(toks)):
        tok = toks[i]
        if tok.kind in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif tok.kind in (TokenType.R_PAREN, TokenType.R_BRACKET):
            if depth == 0:
                if current:
                    args.append(tuple(current))
                return args, i
            depth -= 1
        elif tok.kind is TokenType.COMMA and depth == 0:
            if not current:
                raise SqlError("an argument is missing here", tok.where)
            args.append(tuple(current))
            current = []
            continue
        current.append(tok)
    raise SqlError("this parenthesis is never closed", toks[open_at].where)


def _map_argument(stmt: Statement, arg: tuple[Tok, ...]) -> str | None:
    """``MAP['memory.key', expr]``: the expression of each known key."""
    if len(arg) < 3 or arg[0].word != "MAP" or arg[1].kind is not TokenType.L_BRACKET:
        raise SqlError("the fourth argument is MAP['memory.key', expression]", arg[0].where)
    items, _close = _arguments_in_brackets(arg)
    if len(items) % 2:
        raise SqlError("MAP[...] takes key, value pairs", arg[0].where)
    found: dict[str, str] = {}
    for key, value in zip(items[::2], items[1::2], strict=True):
        if len(key) != 1 or key[0].kind is not TokenType.STRING:
            raise SqlError("a MAP key of AI_RUN_AGENT is a string in quotes", key[0].where)
        if key[0].text not in MAP_KEYS:
            raise SqlError(
                f"unknown AI_RUN_AGENT option '{key[0].text}'; known: {', '.join(MAP_KEYS)}",
                key[0].where,
            )
        found[key[0].text] = _text(stmt, value)
    return found.get("memory.key")


def _arguments_in_brackets(arg: tuple[Tok, ...]) -> tuple[list[tuple[Tok, ...]], int]:
    return _arguments(arg, 1)


def _text(stmt: Statement, toks: tuple[Tok, ...]) -> str:
    return stmt.slice(toks[0], toks[-1])
