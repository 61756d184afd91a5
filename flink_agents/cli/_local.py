"""``flink-agents local``: the Kafka + Flink stack on this machine."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.cli._jars import fetch_all
from flink_agents.local import LocalStack, PartStatus

app = typer.Typer(help="Start, check and stop the local Kafka and Flink.", no_args_is_help=True)


@app.command()
def up(
    ctx: typer.Context,
    taskmanagers: Annotated[
        int | None,
        typer.Option(min=1, help="TaskManagers to run (default: the flink.taskmanagers setting)."),
    ] = None,
) -> None:
    """Start Kafka (KRaft) and a Flink standalone cluster; wait until both are ready.

    Parts that run are left alone: after a TaskManager died, `up` starts only a new one.
    """
    obj: Context = ctx.obj
    started = time.monotonic()
    with user_errors():
        settings = obj.settings
        if taskmanagers is not None:
            settings = settings.model_copy(
                update={"flink": settings.flink.model_copy(update={"taskmanagers": taskmanagers})}
            )
        fetch_all(settings)
        stack = LocalStack(settings)
        with console.status("starting") as status:
            stack.up(lambda part: status.update(f"starting {part}"))
        _show(stack.status())
    console.print(f"local stack up in {time.monotonic() - started:.1f}s")


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop the processes that `local up` started."""
    obj: Context = ctx.obj
    with user_errors():
        stack = LocalStack(obj.settings)
        stack.down()
        _show(stack.status())


@app.command()
def status(ctx: typer.Context) -> None:
    """Show each part of the stack; exit 3 when a part is not running (Flink without a
    TaskManager counts as not running)."""
    obj: Context = ctx.obj
    with user_errors():
        parts = LocalStack(obj.settings).status()
        _show(parts)
    if not all(p.running for p in parts):
        raise typer.Exit(3)


def _show(parts: list[PartStatus]) -> None:
    for part in parts:
        mark = "[green]up[/green]  " if part.running else "[dim]down[/dim]"
        pid = f" pid {part.pid}" if part.pid else ""
        console.print(f"{mark} {part.name:<6}{pid}  {part.detail}", highlight=False)
