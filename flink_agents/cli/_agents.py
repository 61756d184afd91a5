"""``flink-agents agents``: the agents defined in SQL, as the catalog of this home has them."""

from __future__ import annotations

import typer
from rich.table import Table

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.sql import Catalog

app = typer.Typer(help="Agents defined in SQL (the catalog under the home folder).")


@app.command("list")
def list_agents(ctx: typer.Context) -> None:
    """List the agents of the catalog: name, model, tools, description."""
    context: Context = ctx.obj
    with user_errors():
        catalog = Catalog.in_home(context.settings.home)
        table = Table("agent", "model", "tools", "comment")
        for entry in catalog.entries("agent"):
            table.add_row(
                entry.name, entry.model or "", ", ".join(entry.tools), entry.comment or ""
            )
        console.print(table)
