"""The statements this project handles itself, as plain data with the place of each part."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from flink_agents.sql._errors import Position
from flink_agents.sql._tokens import Statement

Kind = Literal["connection", "model", "tool", "agent"]
KINDS: tuple[Kind, ...] = ("connection", "model", "tool", "agent")


@dataclass(frozen=True)
class Name:
    text: str
    where: Position


@dataclass(frozen=True)
class Option:
    value: str
    where: Position  # of the value


@dataclass(frozen=True)
class Create:
    """``CREATE CONNECTION | MODEL | TOOL | AGENT``; which parts are set depends on the kind."""

    kind: Kind
    name: Name
    where: Position
    if_not_exists: bool = False
    options: dict[str, Option] = field(default_factory=dict)
    option_keys: dict[str, Position] = field(default_factory=dict)
    comment: str | None = None
    # MODEL
    inputs: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    # TOOL
    using: Literal["function", "connection"] | None = None
    target: Name | None = None
    # AGENT
    model: Name | None = None
    prompt: Option | None = None
    tools: tuple[Name, ...] = ()
    agents: tuple[Name, ...] = ()


@dataclass(frozen=True)
class AlterAgent:
    name: Name
    where: Position
    if_exists: bool
    action: Literal["set_model", "set_prompt", "add_tool", "remove_tool", "set_options"]
    value: Name | Option | None = None
    options: dict[str, Option] = field(default_factory=dict)
    option_keys: dict[str, Position] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    kind: Kind
    name: Name
    where: Position
    if_exists: bool = False


@dataclass(frozen=True)
class Show:
    kind: Kind
    where: Position


@dataclass(frozen=True)
class Describe:
    kind: Kind
    name: Name
    where: Position


@dataclass(frozen=True)
class PythonFunction:
    """``CREATE [TEMPORARY [SYSTEM]] FUNCTION name AS 'module.func' LANGUAGE PYTHON``."""

    name: Name
    path: Option
    where: Position
    statement: Statement


@dataclass(frozen=True)
class SetOption:
    """``SET 'key' = 'value'`` (a Flink option for the job), or ``RESET ['key']``."""

    key: str | None
    value: str | None
    where: Position


@dataclass(frozen=True)
class Flink:
    """Any other statement: handed to Flink's TableEnvironment unchanged."""

    statement: Statement

    @property
    def where(self) -> Position:
        return self.statement.where


Parsed = Create | AlterAgent | Drop | Show | Describe | PythonFunction | SetOption | Flink
