"""``flink-agents sql``: run a SQL file, or type statements in a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.config import Settings, load_settings
from flink_agents.errors import ConfigError

if TYPE_CHECKING:
    # The SQL front (its parser, the catalog, the job compiler) is loaded by the commands
    # that use it: every other command, `submit` included, starts without it.
    from flink_agents.sql import Result, SqlRun

app = typer.Typer(
    help="Agents in Flink SQL: run a file, or start a shell (no command).",
    invoke_without_command=True,
)


def show(result: Result) -> None:
    if result.headers:
        table = Table(*result.headers)
        for row in result.rows:
            table.add_row(*(Text(cell) for cell in row))  # cells are data, not markup
        console.print(table)
    elif result.message:
        console.print(result.message, highlight=False, markup=False)


@app.callback()
def _shell(ctx: typer.Context) -> None:
    """Without a command: an interactive shell (history, completion), one statement at a time."""
    if ctx.invoked_subcommand is not None:
        return
    from flink_agents.cli._shell import Shell

    context: Context = ctx.obj
    Shell(context.settings).loop()


@app.command()
def run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The .sql file to run.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and print the plan; start no job.")
    ] = False,
    name: Annotated[
        str | None, typer.Option(help="Job name; its topics are <name>.events and so on.")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT of a Flink REST endpoint to submit the job to (default: "
            "cluster.target, else a local MiniCluster).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a SQL file: definitions go to the catalog, INSERT statements become one Flink job."""
    from flink_agents.sql import SqlRun, job_name

    context: Context = ctx.obj
    with user_errors():
        settings = context.settings
        if target:
            settings = load_settings({**context.overrides, "cluster": {"target": target}})
        if settings.cluster.target and not dry_run:
            _submit(settings, file, name or job_name(file))
            return
        runner = SqlRun(settings, name or job_name(file))
        runner.execute_file(file, show)
        if not runner.has_job:
            return
        _build_and_run(runner, dry_run)


@app.command()
def serve(
    ctx: typer.Context,
    agents: Annotated[
        list[str], typer.Argument(help="Agents of the catalog that accept A2A callers.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and print the plan; start no job.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(help="Job name; its topics are <name>.events and so on.", show_default=False),
    ] = None,
) -> None:
    """Serve agents of the catalog on their A2A inboxes alone, as the file defining them would."""
    from flink_agents.sql import SqlRun, serve_name

    context: Context = ctx.obj
    with user_errors():
        if context.settings.cluster.target and not dry_run:
            raise ConfigError(
                f"sql serve runs the agents here, in a MiniCluster, not on cluster.target "
                f"({context.settings.cluster.target}): to serve them on that cluster, submit a "
                "file that creates or alters them with `flink-agents sql run FILE --target`"
            )
        runner = SqlRun(context.settings, name or serve_name(agents))
        runner.serve(agents)
        _build_and_run(runner, dry_run)


def _build_and_run(runner: SqlRun, dry_run: bool) -> None:
    """Build the run's job, print its plan, and run it here unless this is a dry run."""
    runner.job.build(create_topics=not dry_run)
    console.print(runner.job.explain(), highlight=False, markup=False)
    if dry_run:
        console.print("dry run: no job started")
        return
    console.print(f"running job {runner.job.name} (Ctrl-C stops it)")
    runner.job.run()


def _submit(settings: Settings, file: Path, name: str) -> None:
    """The file run by ``flink run`` on the target cluster (``sql/_entry.py``): its
    statements execute here, as with a MiniCluster, and the job is submitted detached."""
    from flink_agents.local import ClusterJobs, RemoteCluster
    from flink_agents.sql import _entry

    if not file.is_file():
        raise ConfigError(f"no SQL file at {file}")
    jobs = ClusterJobs(RemoteCluster(settings))
    plan = settings.home / "sql" / f"{name}.plan.txt"
    messages = settings.home / "sql" / f"{name}.messages.txt"
    for written in (plan, messages):
        written.unlink(missing_ok=True)
    args = [str(file.resolve()), "--name", name, "--home", str(settings.home.resolve())]
    args += ["--plan", str(plan.resolve()), "--messages", str(messages.resolve())]
    try:
        job_id = jobs.submit(Path(_entry.__file__), args)
    finally:
        # What each statement did, also when one of them stopped the file.
        if messages.exists() and messages.read_text().strip():
            console.print(messages.read_text().rstrip(), highlight=False, markup=False)
    if plan.exists():
        console.print(plan.read_text().rstrip(), highlight=False, markup=False)
    jobs.wait_running(job_id)
    console.print(f"job {job_id} ({name}) is running on {settings.cluster.target}")


def run_in_background(file: Path, log: Path, home: Path) -> subprocess.Popen[bytes]:
    """``flink-agents sql run FILE`` as its own process, output in ``log``."""
    return in_background(["run", str(file)], log, home)


def in_background(args: list[str], log: Path, home: Path) -> subprocess.Popen[bytes]:
    """``flink-agents sql ARGS`` as its own process (and process group), output in ``log``."""
    command = [str(Path(sys.executable).with_name("flink-agents")), "--home", str(home)]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "sql", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


__all__ = ["app", "in_background", "run_in_background"]
