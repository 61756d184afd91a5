"""``flink-agents state inspect``: one key's memory, task and queue from a savepoint."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from flink_agents.cli._context import Context, console, user_errors

app = typer.Typer(help="Read agent state from savepoints.", no_args_is_help=True)


@app.command()
def inspect(
    ctx: typer.Context,
    savepoint: Annotated[str, typer.Argument(help="A savepoint (or retained checkpoint) folder.")],
    app_name: Annotated[str, typer.Option("--app", help="The AgentApp's name (its job).")],
    agent: Annotated[str, typer.Option(help="The agent whose state to read.")],
    key: Annotated[str, typer.Option(help="The conversation key (the input's key field).")],
) -> None:
    """Print, as JSON, what the savepoint holds for one key: the running task, the queued
    inputs and the memory.

    It runs a batch query over the savepoint with Flink's State Processor API in a local
    MiniCluster, so it needs no running cluster.
    """
    from flink_agents.runtime import read_key_state

    obj: Context = ctx.obj
    with user_errors():
        state = read_key_state(obj.settings, savepoint, app_name, agent, key)
    if state is None:
        console.print(f"no state for key {agent}/{key} of app {app_name} in {savepoint}")
        raise typer.Exit(1)
    console.print_json(json.dumps(state.to_dict()))
