"""The interactive SQL shell: statements one at a time, with history and completion.

Definitions go to the catalog at once. Flink statements (tables, views, functions, SET) are
kept for the session; an INSERT starts a job in the background, as ``flink-agents sql run``
of the session's statements and that INSERT, and prints where its log is.
"""

from __future__ import annotations

import contextlib
import itertools
import readline
from pathlib import Path

from rich.markup import escape

from flink_agents.cli._context import console, errors
from flink_agents.cli._sql import run_in_background, show
from flink_agents.config import Settings
from flink_agents.errors import FlinkAgentsError
from flink_agents.sql import (
    KINDS,
    Catalog,
    Flink,
    Parsed,
    PythonFunction,
    Result,
    Session,
    SetOption,
    SqlError,
    SqlRun,
    from_text,
    parse,
    variables,
)

_WORDS = (
    "CREATE",
    "ALTER",
    "DROP",
    "SHOW",
    "DESCRIBE",
    "CONNECTION",
    "CONNECTIONS",
    "MODEL",
    "MODELS",
    "TOOL",
    "TOOLS",
    "AGENT",
    "AGENTS",
    "USING",
    "PROMPT",
    "FUNCTION",
    "WITH",
    "COMMENT",
    "IF",
    "NOT",
    "EXISTS",
    "SET",
    "ADD",
    "REMOVE",
    "INSERT",
    "INTO",
    "SELECT",
    "FROM",
    "WHERE",
    "LATERAL",
    "TABLE",
    "AI_RUN_AGENT",
    "MAP",
    "AS",
    "VIEW",
    "TEMPORARY",
    "LANGUAGE",
    "PYTHON",
    "INCLUDE",
)


class Shell:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog.in_home(settings.home)
        self.kept: list[str] = []  # Flink statements of this session, for background jobs
        self.folder = settings.home / "sql"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.session = Session(self.catalog, self._flink)
        self._jobs = itertools.count(1)

    def loop(self) -> None:
        history = self.folder / "history"
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
        readline.set_completer(self._complete)
        readline.parse_and_bind("tab: complete")
        console.print("flink-agents SQL shell: end statements with ';', Ctrl-D quits")
        buffer = ""
        while True:
            try:
                line = input("sql> " if not buffer else "...> ")
            except EOFError:
                break
            except KeyboardInterrupt:
                buffer = ""
                console.print()
                continue
            buffer += line + "\n"
            if not line.rstrip().endswith(";"):
                continue
            self.run(buffer)
            buffer = ""
        with contextlib.suppress(OSError):
            readline.write_history_file(history)

    def run(self, text: str) -> None:
        """Execute the statements of ``text``; errors are printed, the shell goes on."""
        try:
            for stmt in from_text(text, "<shell>", variables(self.settings), Path.cwd()):
                show(self.session.execute(stmt))
        except FlinkAgentsError as exc:
            errors.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False)

    def _flink(self, parsed: Parsed) -> Result:
        if isinstance(parsed, SetOption):
            self.kept.append(f"SET '{parsed.key}' = '{parsed.value}'")
            return Result(f"option {parsed.key} set for this session's jobs")
        if isinstance(parsed, PythonFunction):
            self.kept.append(parsed.statement.text)
            return Result("")
        assert isinstance(parsed, Flink)
        words = [t.word for t in parsed.statement.tokens[:2]]
        if words[:1] not in (["INSERT"], ["CREATE"], ["DROP"], ["ALTER"], ["USE"]):
            raise SqlError(
                f"{words[0]} statements of Flink do not run in this shell: it keeps definitions "
                "(CREATE, DROP, ALTER, USE, SET) and starts a job for each INSERT",
                parsed.where,
            )
        if words[:1] != ["INSERT"]:
            self.kept.append(parsed.statement.text)
            return Result("kept for this session's jobs")
        return self._start(parsed.statement.text)

    def _start(self, insert: str) -> Result:
        number = next(self._jobs)
        file = self.folder / f"shell-job-{number}.sql"
        file.write_text(";\n".join([*self.kept, insert]) + ";\n")
        # Check it the way `sql run --dry-run` does before a job is started for it.
        check = SqlRun(self.settings, f"shell-{number}", self.catalog)
        for stmt in from_text(file.read_text(), str(file), check.variables, Path.cwd()):
            parse(stmt)
        log = self.folder / f"shell-job-{number}.log"
        process = run_in_background(file, log, self.settings.home)
        return Result(f"job started in the background (pid {process.pid}); log: {log}")

    def _complete(self, text: str, state: int) -> str | None:
        names = [e.name for kind in KINDS for e in self.catalog.entries(kind)]
        options = [w for w in [*_WORDS, *names] if w.lower().startswith(text.lower())]
        return options[state] if state < len(options) else None
