"""Definitions that outlive a shell: connections, models, tools, agents and Python functions.

The catalog is one JSON file under the home folder (``<home>/sql/catalog.json``, readable by
its owner only, written whole and renamed into place), so ``flink-agents sql run``, the
shell and other commands of the same home see the same definitions. Secrets given in SQL
(``api-key``, ``token``) are stored there and shown as ``[redacted]``.

>>> import tempfile
>>> catalog = Catalog(Path(tempfile.mkdtemp()) / "catalog.json")
>>> catalog.put(Entry(kind="connection", name="c", options={"type": "openai", "api-key": "sk-1"}))
>>> Catalog(catalog.path).get("connection", "c").shown()["api-key"]
'[redacted]'
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flink_agents.sql._ast import KINDS, Kind

SECRET_OPTIONS = frozenset({"api-key", "token"})
MASK = "[redacted]"


class Entry(BaseModel):
    """One definition, as its statement gave it (options as strings)."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: str
    options: dict[str, str] = Field(default_factory=dict)
    comment: str | None = None
    defined_at: str = ""
    # MODEL
    inputs: list[tuple[str, str]] = Field(default_factory=list)
    outputs: list[tuple[str, str]] = Field(default_factory=list)
    # TOOL
    using: str | None = None
    target: str | None = None
    # AGENT
    model: str | None = None
    prompt: str | None = None
    tools: list[str] = Field(default_factory=list)
    agents: list[str] = Field(default_factory=list)
    #: The answer's row type read from the table named by ``output.table`` when the agent
    #: was created or altered (the agent keeps it if the table changes or goes later).
    output_row: str | None = None
    output_row_from: str = ""

    def shown(self) -> dict[str, str]:
        """The options with secrets masked: what SHOW, DESCRIBE and logs may print."""
        return {k: MASK if k in SECRET_OPTIONS else v for k, v in self.options.items()}


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = 1
    entries: dict[str, dict[str, Entry]] = Field(default_factory=dict)
    #: Python functions by SQL name: ``module.function`` paths.
    functions: dict[str, str] = Field(default_factory=dict)


class Catalog:
    """The definitions of one home folder; every change is written at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._doc = self._read()

    @classmethod
    def in_home(cls, home: Path) -> Catalog:
        return cls(home / "sql" / "catalog.json")

    def _read(self) -> _Document:
        if not self.path.exists():
            return _Document()
        return _Document.model_validate_json(self.path.read_text())

    def reload(self) -> None:
        self._doc = self._read()

    def get(self, kind: Kind, name: str) -> Entry | None:
        return self._doc.entries.get(kind, {}).get(name)

    def entries(self, kind: Kind) -> list[Entry]:
        return sorted(self._doc.entries.get(kind, {}).values(), key=lambda e: e.name)

    def put(self, entry: Entry) -> None:
        self._doc.entries.setdefault(entry.kind, {})[entry.name] = entry
        self._write()

    def remove(self, kind: Kind, name: str) -> None:
        self._doc.entries.get(kind, {}).pop(name, None)
        self._write()

    def function(self, name: str) -> str | None:
        return self._doc.functions.get(name)

    def put_function(self, name: str, path: str) -> None:
        self._doc.functions[name] = path
        self._write()

    def users_of(self, kind: Kind, name: str) -> list[str]:
        """Definitions that name this one (``agent triage`` for a model it uses)."""
        found = []
        for entry in self.entries("tool") if kind == "connection" else []:
            if entry.using == "connection" and entry.target == name:
                found.append(f"tool {entry.name}")
        for entry in self.entries("model") if kind == "connection" else []:
            if entry.options.get("openai.connection") == name:
                found.append(f"model {entry.name}")
        for entry in self.entries("agent"):
            named: dict[str, list[str | None]] = {
                "model": [entry.model],
                "tool": list(entry.tools),
                "agent": list(entry.agents),
            }
            if name in named.get(kind, []):
                found.append(f"agent {entry.name}")
        return found

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = self._doc.model_dump(mode="json")
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".catalog-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


__all__ = ["KINDS", "MASK", "SECRET_OPTIONS", "Catalog", "Entry"]
