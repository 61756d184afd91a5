"""``flink-agents agents list | show NAME``: the agents a team has.

Two places know agents: the card registry (``a2a.cards``, written by each job as it starts,
so it lists the agents that run or ran) and the SQL catalog of this home (the agents defined
with ``CREATE AGENT``, which run once a statement uses them). ``list`` shows both.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from google.protobuf import json_format

from flink_agents.a2a._registry import CARDS_TOPIC, read_cards
from flink_agents.cli._context import Context, console, user_errors
from flink_agents.errors import ConfigError

app = typer.Typer(help="Agents: published A2A cards and the SQL catalog's definitions.")


@app.command("list")
def list_agents(ctx: typer.Context) -> None:
    """One line per agent: name, how to reach it (or its model), and what it does."""
    from flink_agents.sql import Catalog

    obj: Context = ctx.obj
    with user_errors():
        catalog = Catalog.in_home(obj.settings.home).entries("agent")
    try:
        cards = read_cards(obj.settings.bootstrap_servers)
    except ConfigError as exc:
        cards = {}
        console.print(f"(no published cards: {exc})", highlight=False)
    if not cards and not catalog:
        console.print(f"no agent cards in {CARDS_TOPIC} (a job publishes them when it starts)")
        console.print("and no agents in the SQL catalog (CREATE AGENT defines one)")
        return
    for name in sorted(cards):
        card = cards[name]
        where = card.supported_interfaces[0].url if card.supported_interfaces else "-"
        console.print(f"{name:<28} {where:<48} {card.description}", highlight=False)
    for entry in catalog:
        if entry.name in cards:
            continue
        where = f"sql: model {entry.model or '-'}"
        tools = f" (tools: {', '.join(entry.tools)})" if entry.tools else ""
        console.print(f"{entry.name:<28} {where:<48} {entry.comment or ''}{tools}", highlight=False)


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name.")],
) -> None:
    """Print one agent's card as A2A JSON."""
    from flink_agents.sql import Catalog

    obj: Context = ctx.obj
    with user_errors():
        cards = read_cards(obj.settings.bootstrap_servers)
        if name not in cards:
            known = ", ".join(sorted(cards)) or "none"
            hint = ""
            if any(e.name == name for e in Catalog.in_home(obj.settings.home).entries("agent")):
                hint = f"; {name!r} is defined in SQL: `flink-agents sql` DESCRIBE AGENT {name}"
            raise ConfigError(
                f"no card for agent {name!r} in {CARDS_TOPIC} (published: {known}){hint}"
            )
    console.print_json(json.dumps(json_format.MessageToDict(cards[name])))
