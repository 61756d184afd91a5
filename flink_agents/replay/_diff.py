"""``flink-agents diff``: per input, the original decision against the replay's."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from flink_agents.config import Settings
from flink_agents.errors import ConfigError
from flink_agents.replay._reading import outputs
from flink_agents.runtime import ReplayPlan

Status = Literal["changed", "unchanged", "failed"]
COMPLETED = "TASK_STATE_COMPLETED"


class InputDiff(BaseModel):
    """One input: its task, and the decision of each run (None when a run has none)."""

    task_id: str
    context_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    status: Status


class Diff(BaseModel):
    replay: str
    mode: str
    changed: int
    unchanged: int
    failed: int
    inputs: list[InputDiff]


def decision(record: dict[str, Any]) -> dict[str, Any]:
    """What an output decided: its fields and the task's state (and error), without the
    bookkeeping (steps, token usage) that a different prompt changes anyway.

    >>> decision({"decision": "BLOCK", "task": {"id": "t", "state": "TASK_STATE_COMPLETED",
    ...                                          "steps": 3, "usage": {}}})
    {'decision': 'BLOCK', 'state': 'TASK_STATE_COMPLETED'}
    """
    task = record.get("task") or {}
    kept = {k: v for k, v in record.items() if k != "task"}
    kept["state"] = task.get("state")
    if task.get("error"):
        kept["error"] = task["error"]
    return kept


def diff(settings: Settings, name: str) -> Diff:
    """Compare the outputs of replay ``name`` with the original ones, per input."""
    path = ReplayPlan.path(settings.home.resolve(), name)
    if not path.exists():
        raise ConfigError(f"no replay named {name!r} ({path} is missing): run flink-agents replay")
    plan = ReplayPlan.model_validate_json(path.read_text())
    wanted = set(plan.tasks)
    old = _by_task(outputs(settings.bootstrap_servers, plan.outputs.keys()), wanted)
    new = _by_task(outputs(settings.bootstrap_servers, plan.outputs.values()), wanted)
    rows = [_row(task, old.get(task), new.get(task)) for task in plan.tasks]
    count = {s: sum(1 for r in rows if r.status == s) for s in ("changed", "unchanged", "failed")}
    return Diff(replay=name, mode=plan.mode, inputs=rows, **count)


def _by_task(records: list[dict[str, Any]], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The last output of each wanted task (a task answered twice counts once)."""
    found = {}
    for record in records:
        task = (record.get("task") or {}).get("id")
        if task in wanted:
            found[task] = record
    return found


def _row(task: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> InputDiff:
    before = decision(old) if old else None
    after = decision(new) if new else None
    status: Status
    if after is None or after["state"] != COMPLETED:
        status = "failed"
    else:
        status = "unchanged" if before == after else "changed"
    context = ((new or old or {}).get("task") or {}).get("context_id", "")
    return InputDiff(task_id=task, context_id=context, old=before, new=after, status=status)
