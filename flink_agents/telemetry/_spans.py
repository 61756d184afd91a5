"""The events of a task as spans: one trace per task, a span per model call, tool call and
delegation, named and labelled by the OpenTelemetry GenAI semantic conventions.

Pure: no OpenTelemetry objects, no I/O. Ids are derived from the task id and the step, so
the same events give the same trace and span ids whether they are exported live by the job
or later from the events topic, and however often.

>>> from flink_agents.api import events as ev
>>> builder = TaskSpans()
>>> steps = [
...     ev.TaskAccepted(agent="triage", key="c1", task_id="t1", input={}, at=10.0),
...     ev.ModelRequest(agent="triage", key="c1", task_id="t1", step=1, model="m", messages=[],
...                     at=10.1),
...     ev.ModelResponse(agent="triage", key="c1", task_id="t1", step=1, at=10.6,
...                      usage=ev.Usage(prompt_tokens=40, completion_tokens=5)),
...     ev.TaskCompleted(agent="triage", key="c1", task_id="t1", step=1, output={}, at=10.7),
... ]
>>> spans = [span for event in steps for span in builder.add(event)]
>>> [(s.name, s.start, s.end) for s in spans]
[('chat m', 10.1, 10.6), ('invoke_agent triage', 10.0, 10.7)]
>>> spans[0].parent_id == spans[1].span_id, spans[0].trace_id == trace_id_of("t1")
(True, True)
>>> spans[0].attributes["gen_ai.usage.input_tokens"]
40
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from flink_agents.api import events as ev

Attribute = str | int | float | bool

#: Ended tasks remembered, so a result delivered again after its task ended adds no span.
_ENDED_KEPT = 10_000
#: Open tasks remembered; past it the oldest is forgotten (a task whose end never comes).
_OPEN_KEPT = 100_000


@dataclass(frozen=True)
class Span:
    """One span: times are epoch seconds; ``error`` is the ``error.type`` of a failed one."""

    trace_id: int
    span_id: int
    parent_id: int | None
    name: str
    start: float
    end: float
    kind: Literal["internal", "client"] = "internal"
    attributes: dict[str, Attribute] = field(default_factory=dict)
    error: str | None = None
    message: str = ""
    #: Spans of other traces this one leads to, as (trace id, span id): a delegation's peer task.
    links: tuple[tuple[int, int], ...] = ()


def _digest(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big")
    return value or 1  # zero is the invalid id in OpenTelemetry


def trace_id_of(task_id: str) -> int:
    """The trace id of a task (128 bits), the same on every export.

    >>> f"{trace_id_of('t1'):032x}" == f"{trace_id_of('t1'):032x}"
    True
    """
    return _digest(f"trace\x1f{task_id}", 16)


def span_id_of(name: str) -> int:
    """The id (64 bits) of a span named by a task id and what it covers."""
    return _digest(f"span\x1f{name}", 8)


@dataclass
class _Task:
    agent: str
    key: str
    started: float
    models: dict[int, tuple[float, str]] = field(default_factory=dict)
    calls: dict[tuple[int, int], float] = field(default_factory=dict)
    messages: dict[tuple[int, int], str] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)


class TaskSpans:
    """Events in, spans out: each span as soon as the event that ends it arrives.

    A model call ends with its ``model.response``, a tool call with its ``tool.result``, a
    delegation with its ``a2a.answered`` and the task's own span with ``task.completed``,
    ``task.failed`` or ``task.canceled``. A span's start is its request's time when the
    request was seen, else its end less the latency the result reports. An event seen twice
    (at-least-once delivery) gives its span once.
    """

    def __init__(self) -> None:
        self._tasks: OrderedDict[str, _Task] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()

    def add(self, event: ev.Event) -> list[Span]:
        if event.task_id in self._ended or isinstance(event, ev.RequestRejected):
            return []
        task = self._tasks.get(event.task_id)
        if task is None:
            task = self._tasks[event.task_id] = _Task(event.agent, event.key, event.at)
            if len(self._tasks) > _OPEN_KEPT:
                self._tasks.popitem(last=False)
        if isinstance(event, ev.TaskAccepted):
            task.started = min(task.started, event.at)
        elif isinstance(event, ev.ModelRequest):
            task.models[event.step] = (event.at, event.model)
        elif isinstance(event, ev.ToolRequest | ev.PeerRequested):
            task.calls[(event.step, event.call)] = event.at
            if isinstance(event, ev.PeerRequested):
                task.messages[(event.step, event.call)] = event.message_id
        elif isinstance(event, ev.ModelResponse):
            return self._once(task, _model_span(task, event))
        elif isinstance(event, ev.ToolResult):
            return self._once(task, _tool_span(task, event))
        elif isinstance(event, ev.PeerAnswered):
            return self._once(task, _delegation_span(task, event))
        elif isinstance(event, ev.TaskCompleted | ev.TaskFailed | ev.TaskCanceled):
            del self._tasks[event.task_id]
            self._ended[event.task_id] = None
            if len(self._ended) > _ENDED_KEPT:
                self._ended.popitem(last=False)
            return [_task_span(task, event)]
        return []

    @staticmethod
    def _once(task: _Task, span: Span) -> list[Span]:
        if span.span_id in task.done:
            return []
        task.done.add(span.span_id)
        return [span]


def _child(task_id: str, name: str, what: str, start: float, end: float, **kw: object) -> Span:
    return Span(
        trace_id=trace_id_of(task_id),
        span_id=span_id_of(f"{task_id}/{what}"),
        parent_id=span_id_of(task_id),
        name=name,
        start=min(start, end),
        end=end,
        **kw,  # type: ignore[arg-type]
    )


def _model_span(task: _Task, event: ev.ModelResponse) -> Span:
    started, model = task.models.get(event.step, (event.at - event.latency_ms / 1000, ""))
    attributes: dict[str, Attribute] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.agent.name": event.agent,
        "gen_ai.usage.input_tokens": event.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": event.usage.completion_tokens,
        "flink_agents.step": event.step,
        "flink_agents.attempts": event.attempts,
    }
    model, server = _model_and_server(model)
    if model:
        attributes["gen_ai.request.model"] = model
    attributes.update(server)
    error = event.error
    return _child(
        event.task_id,
        f"chat {model}".strip(),
        f"{event.step}/model",
        started,
        event.at,
        kind="client",
        attributes=attributes,
        error=error.type if error else None,
        message=error.message[:500] if error else "",
    )


def _model_and_server(label: str) -> tuple[str, dict[str, Attribute]]:
    """The model's name and its server's address from an event's ``model@URL`` label.

    >>> _model_and_server("gpt-4o@https://api.openai.com/v1")
    ('gpt-4o', {'server.address': 'api.openai.com', 'server.port': 443})
    >>> _model_and_server("llama3")
    ('llama3', {})
    """
    model, at, url = label.rpartition("@")
    if not at:
        return label, {}
    parts = urlsplit(url)
    server: dict[str, Attribute] = {}
    if parts.hostname:
        server["server.address"] = parts.hostname
        server["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)
    return model, server


def _tool_span(task: _Task, event: ev.ToolResult) -> Span:
    started = task.calls.get((event.step, event.call), event.at - event.latency_ms / 1000)
    return _child(
        event.task_id,
        f"execute_tool {event.tool}",
        f"{event.step}.{event.call}/tool",
        started,
        event.at,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.tool,
            "gen_ai.tool.call.id": event.call_id,
            "flink_agents.step": event.step,
            "flink_agents.attempts": event.attempts,
        },
        error="tool_error" if event.is_error else None,
        message=event.content[:500] if event.is_error else "",
    )


def _delegation_span(task: _Task, event: ev.PeerAnswered) -> Span:
    """A delegation; to a peer of this framework (named, not a URL) it links to the root
    span of the peer's task, whose id follows from the peer's name and the message id."""
    started = task.calls.get((event.step, event.call), event.at)
    message_id = task.messages.get((event.step, event.call))
    links: tuple[tuple[int, int], ...] = ()
    if message_id and "://" not in event.peer:
        peer_task = ev.task_id_for_request(event.peer, message_id)
        links = ((trace_id_of(peer_task), span_id_of(peer_task)),)
    return _child(
        event.task_id,
        f"invoke_agent {event.peer}",
        f"{event.step}.{event.call}/a2a",
        started,
        event.at,
        kind="client",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": event.peer,
            "gen_ai.tool.call.id": event.call_id,
            "flink_agents.step": event.step,
            "flink_agents.a2a.state": event.state,
        },
        error=event.state if event.is_error else None,
        message=event.content[:500] if event.is_error else "",
        links=links,
    )


def _task_span(task: _Task, event: ev.TaskCompleted | ev.TaskFailed | ev.TaskCanceled) -> Span:
    failed = isinstance(event, ev.TaskFailed)
    return Span(
        trace_id=trace_id_of(event.task_id),
        span_id=span_id_of(event.task_id),
        parent_id=None,
        name=f"invoke_agent {task.agent}",
        start=min(task.started, event.at),
        end=event.at,
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": task.agent,
            "gen_ai.conversation.id": ev.routing_key(task.agent, task.key),
            "gen_ai.usage.input_tokens": event.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": event.usage.completion_tokens,
            "flink_agents.task.id": event.task_id,
            "flink_agents.task.state": event.kind,
            "flink_agents.steps": event.step,
        },
        error="task_failed" if failed else None,
        message=event.reason[:500] if isinstance(event, ev.TaskFailed) else "",
    )
