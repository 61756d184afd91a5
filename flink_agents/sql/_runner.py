"""One run of SQL: statements through a session into a job, then the job run or explained."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from flink_agents.config import Settings
from flink_agents.sql._catalog import Catalog
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
