"""Root of the command line: global options and the command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from flink_agents.cli import (
    _a2a,
    _agents,
    _jars,
    _jobs,
    _local,
    _replay,
    _sql,
    _state,
    _top,
    _trace,
)
from flink_agents.cli._context import Context

app = typer.Typer(
    help="Event-driven AI agents on Apache Flink and Kafka.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(_local.app, name="local")
app.add_typer(_jars.app, name="jars")
app.add_typer(_sql.app, name="sql")
app.add_typer(_agents.app, name="agents")
app.add_typer(_state.app, name="state")
app.add_typer(_a2a.app, name="a2a")
app.command()(_jobs.submit)
app.command()(_jobs.jobs)
app.command()(_jobs.stop)
app.command()(_jobs.savepoint)
app.command()(_jobs.savepoints)
app.command()(_trace.trace)
app.command()(_top.top)
app.command()(_replay.replay)
app.command()(_replay.diff)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        str | None, typer.Option(help="Folder for caches, data and logs (default .flink-agents).")
    ] = None,
) -> None:
    ctx.obj = Context(overrides={"home": home} if home else {})


def main() -> None:
    app()
