"""The spans of the tasks that ended in a time range, read from an app's events topic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from flink_agents.api import events as ev
from flink_agents.errors import ConfigError
from flink_agents.telemetry._spans import Span, TaskSpans

#: How long before the range the log is read: a task that ends in the range started earlier.
LOOKBACK_MS = 3_600_000
_ENDS = ("task.completed", "task.failed", "task.canceled")
_KINDS = (
    "task.accepted",
    "model.request",
    "model.response",
    "tool.request",
    "tool.result",
    "a2a.request",
    "a2a.answered",
    *_ENDS,
)
_EVENT: TypeAdapter[ev.Event] = TypeAdapter(ev.Event)
_Handler = Callable[[str, dict[str, Any]], None]


def spans_in_range(
    bootstrap_servers: str, topic: str, from_ms: int, to_ms: int, task: str | None = None
) -> list[Span]:
    """Spans of every task (or of ``task``) whose end is in ``[from_ms, to_ms)``.

    Events are read from ``LOOKBACK_MS`` before the range to the topic's end now; a task
    still running, or one that started longer before the range, gives no trace. A log with
    results but no steps (``runtime.events_log: results``) raises ``ConfigError`` saying so.
    """
    from flink_agents.replay._reading import read_to_end

    by_task: dict[str, list[ev.Event]] = {}
    steps = results = 0

    def result(kind: str, value: dict[str, Any]) -> None:
        nonlocal results
        results += 1
        take(kind, value)

    def take(kind: str, value: dict[str, Any]) -> None:
        nonlocal steps
        steps += ev.is_step_event(value)
        if task is not None and value.get("task_id") != task:
            return
        try:
            event = _EVENT.validate_python(value)
        except ValidationError:
            return  # not an event of this schema (the agent dead-letters such records)
        by_task.setdefault(event.task_id, []).append(event)

    handlers: dict[str, _Handler] = {k: result if k in ev.RESULT_KINDS else take for k in _KINDS}
    read_to_end(bootstrap_servers, topic, max(0, from_ms - LOOKBACK_MS), handlers)
    if results and not steps:
        raise ConfigError(ev.results_only(topic, "no task ends in it, so no trace to export"))
    return [span for events in by_task.values() for span in task_spans(events, from_ms, to_ms)]


def task_spans(events: list[ev.Event], from_ms: int = 0, to_ms: int = 2**62) -> list[Span]:
    """The spans of one task's events, or none when the task did not end in the range.

    Results and the operator's own events reach the log through different producers, so
    they are taken in the order they happened, not in log order.
    """
    ends = [e for e in events if e.kind in _ENDS]
    if not ends or not from_ms <= ends[0].at * 1000 < to_ms:
        return []
    builder = TaskSpans()
    return [
        span
        for e in sorted(events, key=lambda e: (e.kind in _ENDS, e.at))
        for span in builder.add(e)
    ]
