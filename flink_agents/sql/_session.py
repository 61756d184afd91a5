"""Runs statements one at a time: this project's DDL against the catalog, the rest into a job.

``CREATE``, ``ALTER``, ``DROP``, ``SHOW`` and ``DESCRIBE`` of connections, models, tools and
agents change or read the catalog at once. Flink statements are checked and handed to the
job being assembled (``SqlJob``); nothing starts until the job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flink_agents.sql._ast import (
    AlterAgent,
    Create,
    Describe,
    Drop,
    Flink,
    Parsed,
    PythonFunction,
    SetOption,
    Show,
)
from flink_agents.sql._catalog import Catalog, Entry
from flink_agents.sql._compile import (
    OUTPUT_OPTIONS,
    check_connection,
    check_options,
    compile_agent,
    import_function,
    model_spec,
    tool_spec,
)
from flink_agents.sql._errors import Position, SqlError
from flink_agents.sql._parser import parse
from flink_agents.sql._rowtype import RowTypeError, row_schema
from flink_agents.sql._tables import Tables
from flink_agents.sql._tokens import Statement


@dataclass
class Result:
    """What a statement prints: a message, or rows under headers."""

    message: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class Session:
    """One sequence of statements over one catalog; Flink statements go to ``flink``,
    ``defined`` hears of each agent a statement creates or alters (with its place) and
    ``dropped`` of each agent a statement drops. ``tables`` are the tables the statements
    declared so far (for ``'output.table'``)."""

    def __init__(
        self,
        catalog: Catalog,
        flink: Callable[[Parsed], Result],
        defined: Callable[[str, Position], None] | None = None,
        dropped: Callable[[str], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.tables = Tables()
        self._flink = flink
        self._defined = defined or (lambda _name, _where: None)
        self._dropped = dropped or (lambda _name: None)

    def execute(self, stmt: Statement) -> Result:
        parsed = parse(stmt)
        if isinstance(parsed, Create):
            return self._create(parsed)
        if isinstance(parsed, AlterAgent):
            return self._alter(parsed)
        if isinstance(parsed, Drop):
            return self._drop(parsed)
        if isinstance(parsed, Show):
            return self._show(parsed)
        if isinstance(parsed, Describe):
            return self._describe(parsed)
        if isinstance(parsed, PythonFunction):
            import_function(parsed.path.value, parsed.path.where)
            self.catalog.put_function(parsed.name.text, parsed.path.value)
            self._flink(parsed)
            return Result(f"function {parsed.name.text} registered")
        assert isinstance(parsed, Flink | SetOption)
        result = self._flink(parsed)
        if isinstance(parsed, Flink):
            self.tables.see(parsed.statement)
        return result

    # -- CREATE ------------------------------------------------------------------------

    def _create(self, stmt: Create) -> Result:
        existing = self.catalog.get(stmt.kind, stmt.name.text)
        if existing is not None:
            if stmt.if_not_exists:
                if stmt.kind == "agent":
                    self._defined(stmt.name.text, stmt.name.where)
                return Result(f"{stmt.kind} {stmt.name.text} exists; left as it is")
            raise SqlError(
                f"{stmt.kind} {stmt.name.text} already exists (defined at {existing.defined_at}): "
                f"DROP {stmt.kind.upper()} {stmt.name.text} first, or ALTER it",
                stmt.name.where,
            )
        entry = Entry(
            kind=stmt.kind,
            name=stmt.name.text,
            options={k: v.value for k, v in stmt.options.items()},
            comment=stmt.comment,
            defined_at=str(stmt.where),
            inputs=list(stmt.inputs),
            outputs=list(stmt.outputs),
            using=stmt.using,
            target=stmt.target.text if stmt.target else None,
            model=stmt.model.text if stmt.model else None,
            prompt=stmt.prompt.value if stmt.prompt else None,
            tools=[t.text for t in stmt.tools],
            agents=[a.text for a in stmt.agents],
        )
        if stmt.kind == "agent":
            self._read_output_table(entry, _where_in(stmt))
        self.check(entry, _where_in(stmt))
        self.catalog.put(entry)
        if stmt.kind == "agent":
            self._defined(stmt.name.text, stmt.name.where)
        return Result(f"{stmt.kind} {stmt.name.text} created")

    def check(self, entry: Entry, where: Callable[[str], Position]) -> None:
        """Everything an entry names resolves and every option value is valid."""
        if entry.kind == "connection":
            check_connection(entry, where)
        elif entry.kind == "model":
            model_spec(entry, self.catalog, where)
        elif entry.kind == "tool":
            check_options(entry, where)
            tool_spec(entry, self.catalog, where)
        else:
            compile_agent(entry, self.catalog, where)

    def _read_output_table(self, entry: Entry, where: Callable[[str], Position]) -> None:
        """Read the answer fields of ``'output.table'`` from the table's declaration now: the
        agent keeps them, so a later file or a changed table does not change its output."""
        name = entry.options.get("output.table")
        if name is None or sum(o in entry.options for o in OUTPUT_OPTIONS) > 1:
            return  # none, or given with another: compile_agent says so
        at = where("output.table")
        excluded = tuple(
            c.strip() for c in entry.options.get("output.table.except", "").split(",") if c.strip()
        )
        row = self.tables.answer_row(name.strip(), excluded, at)
        declared = self.tables.where_declared(name.strip())
        try:
            row_schema(row)
        except RowTypeError as exc:
            raise SqlError(
                f"'output.table': table {name} (declared at {declared}) cannot be an answer: "
                f"{exc}; name such columns in 'output.table.except'",
                at,
            ) from None
        entry.output_row = row
        entry.output_row_from = f"table {name.strip()} declared at {declared}"

    # -- ALTER, DROP -------------------------------------------------------------------

    def _alter(self, stmt: AlterAgent) -> Result:
        entry = self.catalog.get("agent", stmt.name.text)
        if entry is None:
            if stmt.if_exists:
                return Result(f"agent {stmt.name.text} does not exist; nothing altered")
            raise SqlError(f"unknown agent '{stmt.name.text}'", stmt.name.where)
        changed = entry.model_copy(deep=True)
        value = stmt.value
        if stmt.action == "set_model":
            changed.model = value.text  # type: ignore[union-attr]
        elif stmt.action == "set_prompt":
            changed.prompt = value.value  # type: ignore[union-attr]
        elif stmt.action == "add_tool":
            name = value.text  # type: ignore[union-attr]
            if name in changed.tools:
                raise SqlError(f"agent {entry.name} already uses tool {name}", value.where)  # type: ignore[union-attr]
            changed.tools.append(name)
        elif stmt.action == "remove_tool":
            name = value.text  # type: ignore[union-attr]
            if name not in changed.tools:
                raise SqlError(f"agent {entry.name} does not use tool {name}", value.where)  # type: ignore[union-attr]
            changed.tools.remove(name)
        else:
            changed.options.update({k: v.value for k, v in stmt.options.items()})

        def where(key: str) -> Position:
            if key in stmt.options:
                return stmt.options[key].where
            if key.startswith("key:") and key[4:] in stmt.option_keys:
                return stmt.option_keys[key[4:]]
            return value.where if value is not None else stmt.where

        if {"output.table", "output.table.except"} & set(stmt.options):
            self._read_output_table(changed, where)
        self.check(changed, where)
        self.catalog.put(changed)
        self._defined(entry.name, stmt.name.where)
        return Result(f"agent {entry.name} altered")

    def _drop(self, stmt: Drop) -> Result:
        if self.catalog.get(stmt.kind, stmt.name.text) is None:
            if stmt.if_exists:
                return Result(f"{stmt.kind} {stmt.name.text} does not exist; nothing dropped")
            raise SqlError(f"unknown {stmt.kind} '{stmt.name.text}'", stmt.name.where)
        users = self.catalog.users_of(stmt.kind, stmt.name.text)
        if users:
            raise SqlError(
                f"{stmt.kind} {stmt.name.text} is used by {', '.join(users)}: drop or alter "
                "those first",
                stmt.name.where,
            )
        self.catalog.remove(stmt.kind, stmt.name.text)
        if stmt.kind == "agent":
            self._dropped(stmt.name.text)
        return Result(f"{stmt.kind} {stmt.name.text} dropped")

    # -- SHOW, DESCRIBE ----------------------------------------------------------------

    def _show(self, stmt: Show) -> Result:
        rows = [[e.name, e.comment or ""] for e in self.catalog.entries(stmt.kind)]
        return Result(headers=[f"{stmt.kind} name", "comment"], rows=rows)

    def _describe(self, stmt: Describe) -> Result:
        entry = self.catalog.get(stmt.kind, stmt.name.text)
        if entry is None:
            raise SqlError(f"unknown {stmt.kind} '{stmt.name.text}'", stmt.name.where)
        return Result(headers=["property", "value"], rows=describe(entry))


def describe(entry: Entry) -> list[list[str]]:
    """An entry as property/value rows, secrets masked."""
    rows = [["name", entry.name], ["kind", entry.kind]]
    if entry.comment:
        rows.append(["comment", entry.comment])
    if entry.using:
        rows.append([f"using {entry.using}", entry.target or ""])
    if entry.kind == "agent":
        if entry.model:
            rows.append(["model", entry.model])
        if entry.prompt is not None:
            rows.append(["prompt", entry.prompt])
        if entry.tools:
            rows.append(["tools", ", ".join(entry.tools)])
        if entry.agents:
            rows.append(["agents", ", ".join(entry.agents)])
    if entry.output_row is not None:
        rows.append(["answer fields", f"{entry.output_row}  -- from {entry.output_row_from}"])
    for label, columns in (("input", entry.inputs), ("output", entry.outputs)):
        if columns:
            rows.append([label, ", ".join(f"{c} {t}" for c, t in columns)])
    rows += [[f"option {k}", v] for k, v in sorted(entry.shown().items())]
    rows.append(["defined at", entry.defined_at])
    return rows


def _where_in(stmt: Create) -> Callable[[str], Position]:
    """Where a part of a CREATE statement was written: an option's value, a named part."""

    def where(key: str) -> Position:
        if key in stmt.options:
            return stmt.options[key].where
        if key.startswith("key:") and key[4:] in stmt.option_keys:
            return stmt.option_keys[key[4:]]
        if key == "@model" and stmt.model is not None:
            return stmt.model.where
        if key == "@target" and stmt.target is not None:
            return stmt.target.where
        if key == "@agents" and stmt.agents:
            return stmt.agents[0].where
        if key.startswith("@agent:"):
            for agent in stmt.agents:
                if agent.text == key[7:]:
                    return agent.where
        if key.startswith("@tool:"):
            for tool in stmt.tools:
                if tool.text == key[6:]:
                    return tool.where
        return stmt.where

    return where


__all__ = ["Result", "Session"]
