"""``flink-agents state inspect``: one key's memory, running task and queue from a savepoint."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from flink_agents.cli._context import Context, console, user_errors
from flink_agents.local import KeyState, read_key_state

app = typer.Typer(help="Read agent state from savepoints.", no_args_is_help=True)
_WIDTH = 160


@app.command()
def inspect(
    ctx: typer.Context,
    savepoint: Annotated[str, typer.Argument(help="A savepoint folder (or its file: URI).")],
    key: Annotated[str, typer.Option(help="The conversation key (the input's key field).")],
    agent: Annotated[
        str | None, typer.Option(help="Only this agent (default: every agent with the key).")
    ] = None,
    app_name: Annotated[
        str | None,
        typer.Option("--app", help="Only this app's agent operator (default: every one)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print what a savepoint holds for one conversation key: the running task, the queued
    inputs and the memory.

    Flink's State Processor API reads the savepoint offline in a local MiniCluster, so no
    cluster needs to run. The first use compiles a small Java program (it needs a JDK).
    """
    obj: Context = ctx.obj
    with user_errors():
        states = read_key_state(obj.settings, savepoint, key, agent=agent, app=app_name)
    if as_json:
        console.print_json(json.dumps([s.to_dict() for s in states]))
        return
    for state in states:
        for line in describe(state):
            console.print(escape(line), highlight=False)


def describe(state: KeyState) -> list[str]:
    """The readable form: the task, the queue and the memory, one line per item.

    >>> state = KeyState("triage", "card-7", "agents:fraud", None,
    ...     [{"payload": {"amount": 12}, "source": {"topic": "tx", "partition": 0, "offset": 9}}],
    ...     [{"role": "user", "content": "{\\"amount\\": 40}"}])
    >>> print("\\n".join(describe(state)))
    triage/card-7 (operator agents:fraud)
    task: none
    queued: 1
      tx/0@9  {"amount": 12}
    memory: 1 message
      user       {"amount": 40}
    """
    lines = [f"{state.agent}/{state.key} (operator {state.operator})"]
    task = state.task
    if task is None:
        lines.append("task: none")
    else:
        started = datetime.fromtimestamp(task.get("started_at", 0), UTC)
        lines.append(
            f"task: {task.get('id')}  step {task.get('step')}, awaiting {task.get('awaiting')}, "
            f"started {started:%Y-%m-%d %H:%M:%S} UTC"
        )
        lines.append(f"  input {_input_line(task.get('input') or {})}")
        for message in task.get("messages", [])[len(state.memory) :]:
            lines.append(f"  {_message_line(message)}")
    lines.append(f"queued: {len(state.queue)}")
    lines.extend(f"  {_input_line(item)}" for item in state.queue)
    count = len(state.memory)
    lines.append(f"memory: {count} message{'s' if count != 1 else ''}")
    lines.extend(f"  {_message_line(m)}" for m in state.memory)
    return lines


def _input_line(item: dict[str, Any]) -> str:
    source = item.get("source") or {}
    where = f"{source.get('topic')}/{source.get('partition')}@{source.get('offset')}"
    return _cut(f"{where}  {json.dumps(item.get('payload'), ensure_ascii=False)}")


def _message_line(message: dict[str, Any]) -> str:
    content = message.get("content")
    if not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False)
    calls = message.get("tool_calls")
    if calls:
        names = ", ".join(str((c.get("function") or {}).get("name")) for c in calls)
        content = f"{content or ''} [calls {names}]".strip()
    return _cut(f"{message.get('role', '?'):<10} {content}")


def _cut(text: str) -> str:
    flat = " ".join(text.splitlines())
    return flat if len(flat) <= _WIDTH else flat[: _WIDTH - 1] + "…"
