"""``flink-agents replay | diff``: a job's inputs run again into topics of their own, and the
decisions compared with the original ones."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.errors import ConfigError
from flink_agents.replay import diff as compare
from flink_agents.replay import replay_start_ms, run_replay, starting_point

_AGO = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def moment_ms(text: str, now: float | None = None) -> int:
    """A point in time as epoch milliseconds: ``now``, a duration ago (``15m``, ``2h``), an
    ISO 8601 time (with its zone; without one it is local time), or epoch milliseconds.

    >>> moment_ms("90s", now=1000.0), moment_ms("now", now=1000.0), moment_ms("1700000000000")
    (910000, 1000000, 1700000000000)
    >>> moment_ms("2026-11-30T10:00:00+00:00")
    1796032800000
    """
    now = time.time() if now is None else now
    if text == "now":
        return int(now * 1000)
    if text.isdigit():
        return int(text)
    ago = _AGO.match(text)
    if ago:
        return int((now - float(ago.group(1)) * _UNIT_S[ago.group(2)]) * 1000)
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        raise ConfigError(
            f"{text!r} is not a time: give now, a duration ago (90s, 15m, 2h, 1d), an ISO 8601 "
            "time (2026-11-30T10:00:00+00:00) or epoch milliseconds"
        ) from None


def replay(
    ctx: typer.Context,
    script: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The job file.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments for the job.")] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First input time: 15m (ago), ISO 8601 or epoch ms (default: 1h ago; with "
            "--savepoint, the savepoint's time).",
            show_default=False,
        ),
    ] = None,
    end: Annotated[str, typer.Option("--to", help="End of the inputs (exclusive).")] = "now",
    what_if: Annotated[
        bool,
        typer.Option(
            "--what-if", help="Make the calls for real (a changed job file); default: exact."
        ),
    ] = False,
    name: Annotated[str | None, typer.Option(help="The replay's name (default: a time).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every output.")] = 600.0,
    savepoint: Annotated[
        str | None,
        typer.Option(
            help="Start from this savepoint or retained checkpoint (a folder with _metadata): "
            "each key's memory, running task and queued inputs as it holds them."
        ),
    ] = None,
) -> None:
    """Replay the inputs of a time range through a job file into topics <topic>.replay.<name>.

    Exact (the default): every model and tool result comes from the app's events log and
    nothing is called. --what-if: the calls are made. Without --savepoint the replay starts
    with empty memory; with it, from the agents' state the savepoint holds, and the range
    starts at the savepoint's time unless --from says otherwise. The live job's topics,
    offsets and state, and the savepoint, are never changed. Compare with
    `flink-agents diff NAME`.
    """
    obj: Context = ctx.obj
    with user_errors():
        point = starting_point(savepoint) if savepoint else None
        if start is not None:
            from_ms = moment_ms(start)
        elif point is not None:
            from_ms = replay_start_ms(point)
        else:
            from_ms = moment_ms("1h")
        result = run_replay(
            obj.settings,
            script,
            args or [],
            mode="what-if" if what_if else "exact",
            from_ms=from_ms,
            to_ms=moment_ms(end),
            name=name,
            timeout_s=timeout,
            savepoint=point.path if point else None,
        )
    plan = result.plan
    console.print(
        f"replay {plan.name} ({plan.mode}): {result.outputs} outputs for {len(plan.tasks)} "
        f"inputs of app {plan.app}, {result.failed} failed, in {result.seconds:.1f} s "
        f"({result.tasks_per_s:.0f}/s); outputs in {', '.join(plan.outputs.values())}"
    )
    if plan.savepoint:
        console.print(f"started from savepoint {plan.savepoint}")
    console.print(f"compare: flink-agents diff {plan.name}")


def diff(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The replay to compare with the original run.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    show: Annotated[int, typer.Option(help="Rows of the table (changed and failed first).")] = 50,
) -> None:
    """Per input, the original decision and the replay's; counts changed, unchanged, failed."""
    obj: Context = ctx.obj
    with user_errors():
        result = compare(obj.settings, name)
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    table = Table(title=f"replay {result.replay} ({result.mode})", expand=True)
    for column in ("input", "original", "replay", "status"):
        table.add_column(column, overflow="fold")
    order = {"failed": 0, "changed": 1, "unchanged": 2}
    for row in sorted(result.inputs, key=lambda r: order[r.status])[:show]:
        table.add_row(row.context_id, _brief(row.old), _brief(row.new), row.status)
    console.print(table)
    console.print(
        f"{result.changed} changed, {result.unchanged} unchanged, {result.failed} failed "
        f"of {len(result.inputs)} inputs"
    )


def _brief(decision: dict[str, object] | None) -> str:
    if decision is None:
        return "-"
    return ", ".join(f"{k}={v}" for k, v in decision.items() if k != "state") or str(
        decision.get("state")
    )
