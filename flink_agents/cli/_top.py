"""``flink-agents top``: a live table per agent of the running jobs, from the REST API."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from flink_agents.cli._context import console, user_errors
from flink_agents.cli._jobs import Target, _jobs
from flink_agents.local import AgentRow, read_agents, rows


def top(
    ctx: typer.Context,
    target: Target = None,
    once: Annotated[bool, typer.Option(help="Print one table and exit.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, help="Seconds between readings (the rates' window).")
    ] = 2.0,
) -> None:
    """Show tasks/s, calls in flight, latency, tokens/s and errors per agent of the running
    jobs, read from the Flink REST API (the metrics AgentStep registers)."""
    with user_errors():
        rest = _jobs(ctx, target).cluster.rest
        before, taken = read_agents(rest), time.monotonic()
        if once:
            time.sleep(interval)  # the window the rates are measured over
            shown = table(rows(before, read_agents(rest), time.monotonic() - taken))
            # Piped or captured, the table is as wide as it needs: no names cut to fit 80.
            (console if console.is_terminal else Console(width=240)).print(shown)
            return
        with Live(table([]), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                after, now = read_agents(rest), time.monotonic()
                live.update(table(rows(before, after, now - taken)), refresh=True)
                before, taken = after, now


def table(agents: list[AgentRow]) -> Table:
    """The table ``top`` prints; a note instead of rows when no running job has agents."""
    out = Table(box=None, pad_edge=False, caption=None if agents else "no running agent jobs")
    for name in ("agent", "job", "tasks", "tasks/s", "in flight", "model ms", "tool ms"):
        out.add_column(name, justify="left" if name in ("agent", "job") else "right")
    for name in ("tokens/s", "errors", "failed"):
        out.add_column(name, justify="right")
    for a in agents:
        out.add_row(
            a.agent,
            a.job,
            str(a.tasks),
            f"{a.tasks_per_s:.1f}",
            str(a.in_flight),
            "-" if a.model_ms is None else f"{a.model_ms:.0f}",
            "-" if a.tool_ms is None else f"{a.tool_ms:.0f}",
            f"{a.tokens_per_s:.0f}",
            str(a.errors),
            str(a.failed),
        )
    return out
