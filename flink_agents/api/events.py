"""The agent events topic: every step of every task, as JSON, one pydantic model per kind.

This log is the audit trail and the source of replay. Ids are deterministic: a task's id
comes from the input record it serves (agent, topic, partition, offset), a step's from the
task id and the step number, so a step written twice (at-least-once delivery) has one id
and is applied once.

Each record is keyed by the conversation (``<agent>/<key>``) and carries its kind in the
``fa-kind`` header, so consumers can filter without parsing JSON. The events one agent step
decides (an input's ``task.accepted`` and ``model.request``, a turn's tool requests, a
task's end) leave as one record of kind ``step`` holding them in order; results written by
the call executor stay one record each. ``events_in`` reads either shape.

>>> e = ModelResponse(agent="triage", key="card-1", task_id="t1", step=1,
...                   message=AssistantMessage(content="hi"), at=0.0)
>>> e.id, e.context_id
('t1/1/model.response', 'triage/card-1')
>>> parse_event(e.model_dump_json()) == e
True
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    computed_field,
    model_validator,
)

SCHEMA_VERSION = 1
_TASK_NAMESPACE = uuid.UUID("6f0b7f0e-3f57-4d0e-9b1c-5a2c1e6d7a10")


def task_id_for(agent: str, topic: str, partition: int, offset: int) -> str:
    """The id of the task serving one input record: the same record gives the same id.

    >>> task_id_for("triage", "transactions", 0, 41) == task_id_for("triage", "transactions", 0, 41)
    True
    """
    return str(uuid.uuid5(_TASK_NAMESPACE, f"{agent}\x1f{topic}\x1f{partition}\x1f{offset}"))


def task_id_for_request(agent: str, message_id: str) -> str:
    """The id of the task serving another agent's request: the same message gives the same id.

    >>> task_id_for_request("review", "m1") == task_id_for_request("review", "m1")
    True
    """
    return str(uuid.uuid5(_TASK_NAMESPACE, f"{agent}\x1fa2a\x1f{message_id}"))


def routing_key(agent: str, key: str) -> str:
    """Kafka key of a conversation's records: ``<agent>/<key>`` (agent names have no ``/``)."""
    return f"{agent}/{key}"


def event_id(task_id: str, step: int, kind: str, call: int | None = None) -> str:
    """The deterministic id of a task's event: ``<task>/<step>[.<call>]/<kind>``.

    A call's result has the id its call expects, which is how duplicates are told apart.

    >>> event_id("t", 2, "tool.result", call=1)
    't/2.1/tool.result'
    """
    where = step if call is None else f"{step}.{call}"
    return f"{task_id}/{where}/{kind}"


def split_routing_key(value: str) -> tuple[str, str]:
    agent, _, key = value.partition("/")
    return agent, key


class SourceRef(BaseModel):
    """Where an input came from."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ToolCallRequest(BaseModel):
    """A tool call the model asked for; ``arguments`` is the JSON text the model wrote."""

    id: str
    name: str
    arguments: str


class AssistantMessage(BaseModel):
    content: str | None = None
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)


class CallError(BaseModel):
    """Why a call failed for good (after its retries)."""

    type: str
    message: str
    retryable: bool = False


class _Event(BaseModel):
    # Unknown fields are kept: an event written by a newer version still reads here.
    model_config = ConfigDict(extra="allow")

    v: int = SCHEMA_VERSION
    agent: str
    key: str
    task_id: str
    step: int = 0
    at: float

    @model_validator(mode="before")
    @classmethod
    def _derived_fields_are_not_input(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("id" in data or "context_id" in data):
            data = {k: v for k, v in data.items() if k not in ("id", "context_id")}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def context_id(self) -> str:
        return routing_key(self.agent, self.key)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, self.kind)  # type: ignore[attr-defined]


class TaskAccepted(_Event):
    """An input started a task (it may have waited behind an earlier task of the key)."""

    kind: Literal["task.accepted"] = "task.accepted"
    input: Any
    source: SourceRef | None = None


class ModelRequest(_Event):
    """A model call was issued for step ``step``.

    ``messages`` holds what the prompt gained since the task's previous request (step 1: the
    memory and the input; later: the model's tool calls and their results, or a repair
    request), so the requests of a task concatenate to the whole conversation without the
    log repeating it at every step. The system prompt is the agent's instructions (and
    output contract); ``system_digest`` identifies the version used.
    """

    kind: Literal["model.request"] = "model.request"
    model: str
    system_digest: str = ""
    messages: list[dict[str, Any]]
    tools: list[str] = Field(default_factory=list)
    attempt: int = 1


class ModelResponse(_Event):
    """The model answered step ``step`` (or failed for good, with ``error``)."""

    kind: Literal["model.response"] = "model.response"
    message: AssistantMessage | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    attempts: int = 1
    error: CallError | None = None


class ToolRequest(_Event):
    """A tool call was issued; ``call`` numbers it within the step."""

    kind: Literal["tool.request"] = "tool.request"
    call: int
    call_id: str
    tool: str
    arguments: str
    attempt: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, self.kind, self.call)


class ToolResult(_Event):
    """A tool answered (``is_error`` when the tool itself failed: the model sees that too)."""

    kind: Literal["tool.result"] = "tool.result"
    call: int
    call_id: str
    tool: str
    content: str
    is_error: bool = False
    latency_ms: float = 0.0
    attempts: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, self.kind, self.call)


class PeerRequested(_Event):
    """A task delegated to a peer agent (an A2A ``SendMessage`` to the peer's inbox).

    ``call`` numbers it within the step like a tool call: the model asked for the peer as a
    tool, and the peer's reply becomes that tool's result. ``message_id`` is the A2A message
    id, which is also the correlation id the reply carries.
    """

    kind: Literal["a2a.request"] = "a2a.request"
    call: int
    call_id: str
    peer: str
    message_id: str
    text: str
    depth: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, self.kind, self.call)


class PeerAnswered(_Event):
    """A peer's reply was applied: what the model sees as the peer tool's result."""

    kind: Literal["a2a.answered"] = "a2a.answered"
    call: int
    call_id: str
    peer: str
    state: str
    content: str
    is_error: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, self.kind, self.call)


class RequestRejected(_Event):
    """A request to this agent was refused (a caller it does not accept, a chain too long)."""

    kind: Literal["a2a.rejected"] = "a2a.rejected"
    caller: str
    message_id: str
    reason: str


class TaskInputRequired(_Event):
    """The task asks its requester for input (``ask_for_input``) and waits for the answer.

    The task's A2A state is ``TASK_STATE_INPUT_REQUIRED``, with ``question`` as its status
    message, until a message naming the task answers it or ``limits.input_timeout`` passes.
    """

    kind: Literal["task.input_required"] = "task.input_required"
    call: int
    call_id: str
    question: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, self.kind, self.call)


class TaskResumed(_Event):
    """A message naming the task answered its question: the answer is the tool's result."""

    kind: Literal["task.resumed"] = "task.resumed"
    call: int
    call_id: str
    caller: str
    message_id: str
    answer: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, self.kind, self.call)


class TaskCompleted(_Event):
    kind: Literal["task.completed"] = "task.completed"
    output: dict[str, Any]
    usage: Usage = Field(default_factory=Usage)


class TaskFailed(_Event):
    kind: Literal["task.failed"] = "task.failed"
    reason: str
    usage: Usage = Field(default_factory=Usage)


class TaskCanceled(_Event):
    """A task was cancelled by whoever asked for it (an A2A ``CancelTask``)."""

    kind: Literal["task.canceled"] = "task.canceled"
    reason: str
    usage: Usage = Field(default_factory=Usage)


Event = Annotated[
    TaskAccepted
    | ModelRequest
    | ModelResponse
    | ToolRequest
    | ToolResult
    | PeerRequested
    | PeerAnswered
    | RequestRejected
    | TaskInputRequired
    | TaskResumed
    | TaskCompleted
    | TaskFailed
    | TaskCanceled,
    Field(discriminator="kind"),
]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)

#: Kinds written by the call executor, which the agent operator reads back.
RESULT_KINDS = frozenset({"model.response", "tool.result"})
#: The Kafka header that names a record's kind.
KIND_HEADER = "fa-kind"
#: Kind of a record holding the events of one agent step, in the order they happened.
STEP_KIND = "step"
#: Kinds an events topic holds at ``runtime.events_log: results``: the results and peers'
#: answers (``a2a.reply``), which the agents read back; every other kind comes from a step.
RESULTS_LOG_KINDS = RESULT_KINDS | {"a2a.reply"}


def is_step_event(event: Mapping[str, Any]) -> bool:
    """Whether an event of the log comes from an agent's step (not a result or an answer).

    >>> is_step_event({"kind": "task.accepted"}), is_step_event({"kind": "model.response"})
    (True, False)
    """
    return event.get("kind") not in RESULTS_LOG_KINDS


def results_only(topic: str, what: str) -> str:
    """What a reader of the steps says when ``topic`` holds results but no steps.

    >>> results_only("fraud.events", "no steps to trace")
    'the events topic fraud.events holds results only (runtime.events_log: results): no \
steps to trace. The app logs each step with runtime.events_log: full (the default)'
    """
    return (
        f"the events topic {topic} holds results only (runtime.events_log: results): {what}. "
        "The app logs each step with runtime.events_log: full (the default)"
    )


def parse_event(text: str | bytes) -> Event:
    return _EVENT.validate_json(text)


#: Version of a ``step`` record whose events leave out what the record says once.
STEP_VERSION = 2
#: Fields a step record states once, and each event only where it differs from the event
#: before it (a step's events share their conversation, and mostly their task and time).
_CARRIED = ("agent", "key", "task_id", "at")
#: Fields an event derives from the others: never written in a step record.
_DERIVED = frozenset({"v", "id", "context_id"})


def step_record(events: Sequence[_Event]) -> str:
    """The value of the one record that carries the events of one agent step.

    The record states the first event's ``agent``, ``key``, ``task_id`` and ``at`` once; each
    event writes them only where they differ from the event before it (the next task a step
    starts names its ``task_id``), and leaves out what it derives (``id``, ``context_id``)
    and the fields at their defaults. ``events_in`` gives each event back whole.

    >>> a = TaskCompleted(agent="triage", key="card-1", task_id="t1", step=1, output={}, at=0.5)
    >>> step_record([a])
    '{"v":2,"kind":"step","agent":"triage","key":"card-1","task_id":"t1","at":0.5,"events":[{"kind":"task.completed","step":1,"output":{}}]}'
    >>> events_in(STEP_KIND, step_record([a])) == [a.model_dump(mode="json")]
    True
    """
    carried = {f: getattr(events[0], f) for f in _CARRIED}
    head = json.dumps(
        {"v": STEP_VERSION, "kind": STEP_KIND, **carried},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    inner = []
    for event in events:
        left_out = set(_DERIVED)
        for f in _CARRIED:
            value = getattr(event, f)
            if value == carried[f]:
                left_out.add(f)
            carried[f] = value
        inner.append(
            _with_kind(event, event.model_dump_json(exclude=left_out, exclude_defaults=True))
        )
    return f'{head[:-1]},"events":[{",".join(inner)}]}}'


def result_record(event: _Event) -> bytes:
    """The value of a result's own record (``model.response``, ``tool.result``).

    Every field, as consumers of the topic read it, and its ``id``, by which recovery and
    exact replay find it; only ``context_id`` is left out (it is the record's key).

    >>> r = ModelResponse(agent="a", key="k", task_id="t1", step=1, at=0.0)
    >>> json.loads(result_record(r))["id"], "context_id" in json.loads(result_record(r))
    ('t1/1/model.response', False)
    >>> parse_event(result_record(r)) == r
    True
    """
    return event.model_dump_json(exclude={"context_id"}).encode()


def _with_kind(event: _Event, body: str) -> str:
    # ``kind`` is a field with a default, so ``exclude_defaults`` left it out.
    kind = f'{{"kind":"{event.kind}"'  # type: ignore[attr-defined]
    return f"{kind},{body[1:]}" if body != "{}" else f"{kind}}}"


def events_in(kind: str | bytes | None, value: str | bytes | Any) -> list[dict[str, Any]]:
    """The events one record of an events topic holds, as JSON objects, in order.

    ``kind`` is the record's ``fa-kind`` header, ``value`` its value (the text, or the JSON
    already decoded). A ``step`` record holds the events of one agent step; any other record
    is one event (a result, or a peer's A2A answer, whose value has no ``kind`` of its own
    and gets the header's). A record without a value holds none. Every shape the log has had
    reads the same: each event comes back whole, with its envelope (``v``, ``agent``,
    ``key``, ``task_id``, ``id``, ``context_id``) and every field, defaults included.

    >>> events_in(b"model.response", '{"kind": "model.response", "id": "t1/1/model.response"}')
    [{'kind': 'model.response', 'id': 't1/1/model.response'}]
    >>> events_in("step", '{"v": 1, "kind": "step", "events": [{"kind": "task.accepted"},'
    ...                   ' {"kind": "model.request"}]}')
    [{'kind': 'task.accepted'}, {'kind': 'model.request'}]
    >>> events_in(b"a2a.reply", '{"task": {"id": "p1"}}')
    [{'task': {'id': 'p1'}, 'kind': 'a2a.reply'}]
    """
    if value is None:
        return []
    if isinstance(kind, bytes):
        kind = kind.decode()
    record = json.loads(value) if isinstance(value, str | bytes) else dict(value)
    if not isinstance(record, dict):
        return []
    if kind == STEP_KIND or (kind is None and record.get("kind") == STEP_KIND):
        events = [e for e in record.get("events") or [] if isinstance(e, dict)]
        if record.get("v", 1) < STEP_VERSION:
            return events
        carried = {f: record[f] for f in _CARRIED if f in record}
        whole = []
        for event in events:
            carried.update((f, event[f]) for f in _CARRIED if f in event)
            whole.append(_whole({**event, **carried}))
        return whole
    if kind is not None:
        record.setdefault("kind", kind)
    return [_whole(record) if record.get("kind") in _KINDS else record]


def _whole(event: dict[str, Any]) -> dict[str, Any]:
    """An event with its defaults and derived fields; as it was if it does not read."""
    try:
        return _EVENT.validate_python(event).model_dump(mode="json")
    except ValidationError:
        return event


_KINDS = frozenset(
    model.model_fields["kind"].default
    for model in (
        TaskAccepted,
        ModelRequest,
        ModelResponse,
        ToolRequest,
        ToolResult,
        PeerRequested,
        PeerAnswered,
        RequestRejected,
        TaskInputRequired,
        TaskResumed,
        TaskCompleted,
        TaskFailed,
        TaskCanceled,
    )
)


def sent_messages(
    events: Iterable[dict[str, Any]], task_id: str, step: int, system: str | None = None
) -> list[dict[str, Any]]:
    """The messages the task's model request at ``step`` sent, rebuilt from its events.

    A ``model.request`` logs only what the prompt gained since the task's previous request,
    so the conversation of a step is what the task's requests up to it gained, in order. A
    request under another ``system_digest`` than the task's first (a critic's turn) logs its
    whole conversation. With ``system``, the text whose digest the request names (the
    agent's ``instructions`` rendered as the job renders them), it comes first, as the model
    got it. ``events`` are whole events (``events_in`` gives them); a request logged twice
    counts once.

    >>> log = [
    ...     {"kind": "model.request", "task_id": "t", "step": 1, "system_digest": "d",
    ...      "messages": [{"role": "user", "content": "hi"}]},
    ...     {"kind": "model.request", "task_id": "t", "step": 2, "system_digest": "d",
    ...      "messages": [{"role": "tool", "content": "42"}]},
    ... ]
    >>> [m["content"] for m in sent_messages(log, "t", 2, system="Be brief.")]
    ['Be brief.', 'hi', '42']
    """
    requests: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.get("kind") == "model.request" and event.get("task_id") == task_id:
            requests.setdefault(int(event.get("step", 0)), event)
    if step not in requests:
        raise KeyError(f"no model.request of task {task_id} at step {step} in these events")
    first = requests[min(requests)].get("system_digest")
    asked = requests[step]
    if asked.get("system_digest") != first:
        messages = list(asked.get("messages") or [])
    else:
        messages = [
            message
            for at in sorted(requests)
            if at <= step and requests[at].get("system_digest") == first
            for message in requests[at].get("messages") or []
        ]
    return [{"role": "system", "content": system}, *messages] if system is not None else messages


class DeadLetter(BaseModel):
    """A record on the dead-letter topic: what could not be done, and why."""

    model_config = ConfigDict(extra="allow")

    v: int = SCHEMA_VERSION
    kind: Literal["input.rejected", "task.failed", "tool.failed", "record.failed"]
    reason: str
    agent: str | None = None
    key: str | None = None
    task_id: str | None = None
    source: SourceRef | None = None
    payload: Any = None
    at: float
