"""``flink-agents agents list | show NAME``: the agent cards in the registry."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from google.protobuf import json_format

from flink_agents.a2a._registry import CARDS_TOPIC, read_cards
from flink_agents.cli._context import Context, console, user_errors
from flink_agents.errors import ConfigError

app = typer.Typer(help="The agents whose cards are published (A2A agent cards).")


@app.command("list")
def list_agents(ctx: typer.Context) -> None:
    """One line per agent: name, how to reach it, and what it does."""
    obj: Context = ctx.obj
    with user_errors():
        cards = read_cards(obj.settings.bootstrap_servers)
    if not cards:
        console.print(f"no agent cards in {CARDS_TOPIC} (a job publishes them when it starts)")
        return
    for name in sorted(cards):
        card = cards[name]
        where = card.supported_interfaces[0].url if card.supported_interfaces else "-"
        console.print(f"{name:<28} {where:<48} {card.description}", highlight=False)


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name.")],
) -> None:
    """Print one agent's card as A2A JSON."""
    obj: Context = ctx.obj
    with user_errors():
        cards = read_cards(obj.settings.bootstrap_servers)
        if name not in cards:
            known = ", ".join(sorted(cards)) or "none"
            raise ConfigError(f"no card for agent {name!r} in {CARDS_TOPIC} (published: {known})")
    console.print_json(json.dumps(json_format.MessageToDict(cards[name])))
