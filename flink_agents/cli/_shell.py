"""The interactive SQL shell: statements one at a time, with history and completion.

Definitions go to the catalog at once. Flink statements (tables, views, functions, SET) are
kept for the session; an INSERT starts a job in the background, as ``flink-agents sql run``
of the session's statements and that INSERT, and prints where its log is. An agent created
or altered with ``'a2a.callers'`` is served by a background job of its own (``flink-agents
sql serve``), replaced when the agent is altered and stopped when it is dropped. The shell
stops every job it started when it exits, and says so.
"""

from __future__ import annotations

import contextlib
import itertools
import readline
from pathlib import Path

from rich.markup import escape

from flink_agents.cli._background import BackgroundJobs
from flink_agents.cli._context import console, errors
from flink_agents.cli._sql import show
from flink_agents.config import Settings
from flink_agents.errors import FlinkAgentsError
from flink_agents.sql import (
    KINDS,
    Catalog,
    Flink,
    Parsed,
    Position,
    PythonFunction,
    Result,
    Session,
    SetOption,
    SqlError,
    SqlRun,
    find_call,
    from_text,
    parse,
    serve_name,
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
        self.session = Session(self.catalog, self._flink, self._defined, self._dropped)
        self.jobs = BackgroundJobs(settings.home)
        self._served: dict[str, str] = {}  # agent -> its definition when its job started
        self._numbers = itertools.count(1)

    def loop(self) -> None:
        history = self.folder / "history"
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
        readline.set_completer(self._complete)
        readline.parse_and_bind("tab: complete")
        console.print("flink-agents SQL shell: end statements with ';', Ctrl-D quits")
        try:
            self._read()
        finally:
            with contextlib.suppress(OSError):
                readline.write_history_file(history)
            self.close()

    def _read(self) -> None:
        buffer = ""
        while True:
            try:
                line = input("sql> " if not buffer else "...> ")
            except EOFError:
                console.print()
                return
            except KeyboardInterrupt:
                buffer = ""
                console.print()
                continue
            buffer += line + "\n"
            if not line.rstrip().endswith(";"):
                continue
            self.run(buffer)
            buffer = ""

    def close(self) -> None:
        """Stop every job this shell started, saying which."""
        for job in self.jobs.stop_all():
            console.print(
                f"stopped the job that {job.label} (pid {job.pid}); log: {job.log}",
                highlight=False,
                markup=False,
            )

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
        call = find_call(parsed.statement)
        if call is not None and call.agent.text in self._served:
            console.print(
                f"note: agent {call.agent.text} is also served by this shell's job "
                f"shell.{serve_name([call.agent.text])}: both jobs read its A2A inbox, so a "
                "request is answered twice until one stops (DROP AGENT stops the serving job)",
                highlight=False,
                markup=False,
            )
        return self._start(parsed.statement.text)

    def _defined(self, name: str, _where: Position) -> None:
        """An agent created or altered: one that accepts A2A callers is served by a job of
        its own; an altered one's job is replaced."""
        entry = self.catalog.get("agent", name)
        if entry is None or "a2a.callers" not in entry.options:
            return
        definition = entry.model_dump_json()
        if self._served.get(name) == definition and (job := self.jobs.get(name)) and job.alive:
            return  # CREATE IF NOT EXISTS of an agent already served as it is
        old = self.jobs.stop(name)
        if old is not None:
            console.print(
                f"stopped the job that {old.label} (pid {old.pid})", highlight=False, markup=False
            )
        job_name = f"shell.{serve_name([name])}"  # the same on ALTER: it goes on from there
        log = self.folder / f"{job_name}.log"
        job = self.jobs.start(
            name, f"serves agent {name}", ["serve", name, "--name", job_name], log
        )
        self._served[name] = definition
        console.print(
            f"agent {name} accepts A2A callers: serving it in the background as job {job_name} "
            f"(pid {job.pid}); log: {log}",
            highlight=False,
            markup=False,
        )

    def _dropped(self, name: str) -> None:
        self._served.pop(name, None)
        job = self.jobs.stop(name)
        if job is not None:
            console.print(
                f"stopped the job that {job.label} (pid {job.pid})", highlight=False, markup=False
            )

    def _start(self, insert: str) -> Result:
        number = next(self._numbers)
        file = self.folder / f"shell-job-{number}.sql"
        file.write_text(";\n".join([*self.kept, insert]) + ";\n")
        # Check it the way `sql run --dry-run` does before a job is started for it.
        check = SqlRun(self.settings, f"shell-{number}", self.catalog)
        for stmt in from_text(file.read_text(), str(file), check.variables, Path.cwd()):
            parse(stmt)
        log = self.folder / f"shell-job-{number}.log"
        job = self.jobs.start(
            f"#insert-{number}", f"runs INSERT #{number}", ["run", str(file)], log
        )
        return Result(f"job started in the background (pid {job.pid}); log: {log}")

    def _complete(self, text: str, state: int) -> str | None:
        names = [e.name for kind in KINDS for e in self.catalog.entries(kind)]
        options = [w for w in [*_WORDS, *names] if w.lower().startswith(text.lower())]
        return options[state] if state < len(options) else None
