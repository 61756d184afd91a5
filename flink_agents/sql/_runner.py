"""One run of SQL: statements through a session into a job, then the job run or explained."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from flink_agents.config import Settings
from flink_agents.errors import ConfigError
from flink_agents.sql._catalog import Catalog
from flink_agents.sql._errors import Position
from flink_agents.sql._job import SqlJob
from flink_agents.sql._script import load
from flink_agents.sql._session import Result, Session
from flink_agents.sql._tokens import Statement


def variables(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What ``${NAME}`` may name: the environment, and two defaults of this project."""
    builtins = {"PYTHON": sys.executable, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    return {**builtins, **(os.environ if environ is None else environ)}


def job_name(path: Path) -> str:
    """The default job (app) name of a file: its stem, in topic-name characters."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", path.stem)


class SqlRun:
    """Statements executed in order against the home's catalog, Flink ones into one job."""

    def __init__(self, settings: Settings, name: str, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog or Catalog.in_home(settings.home)
        self.variables = variables(settings)
        self.job = SqlJob(settings, name, self.catalog, self.variables)
        self.session = Session(self.catalog, self.job.accept, self.job.defined)

    def execute_file(self, path: Path, show: Callable[[Result], None]) -> None:
        for stmt in load(path, self.variables):
            self.execute(stmt, show)

    def execute(self, stmt: Statement, show: Callable[[Result], None]) -> None:
        show(self.session.execute(stmt))

    @property
    def has_job(self) -> bool:
        return self.job.has_work

    def serve(self, names: list[str]) -> None:
        """Serve agents of the catalog by name, on their inboxes alone, as a file that
        creates them would: each must accept A2A callers (``'a2a.callers'``)."""
        if not names:
            raise ConfigError("name at least one agent to serve (SHOW AGENTS lists them)")
        for name in names:
            entry = self.catalog.get("agent", name) or next(
                (e for e in self.catalog.entries("agent") if _runs_as(e.name) == _runs_as(name)),
                None,
            )
            if entry is None:
                known = ", ".join(e.name for e in self.catalog.entries("agent")) or "none"
                raise ConfigError(
                    f"no agent {name!r} in the catalog {self.catalog.path} (agents: {known}); "
                    "CREATE AGENT it first"
                )
            if "a2a.callers" not in entry.options:
                raise ConfigError(
                    f"agent {name} accepts no A2A callers, so nothing would reach it: "
                    f"ALTER AGENT {name} SET ('a2a.callers' = '<agents>' or '*') first, or run "
                    "it on a table with AI_RUN_AGENT"
                )
            self.job.defined(entry.name, Position(f"agent {entry.name} (catalog)", 1, 1))


def _runs_as(name: str) -> str:
    return name.lower().replace("_", "-")


def serve_name(names: list[str]) -> str:
    """The default job name of ``sql serve``: ``serve.<agent>[.<agent>...]``.

    >>> serve_name(["compliance_review"])
    'serve.compliance-review'
    """
    return "serve." + ".".join(_runs_as(n) for n in names)
