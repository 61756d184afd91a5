"""What an agent keeps per conversation key, and the calls it hands to the executor.

State is JSON of these pydantic models, so a savepoint can be read by eye and a field
added later does not break an older savepoint (new fields have defaults; unknown ones
are kept).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from flink_agents.api.events import SourceRef, Usage, event_id
from flink_agents.core._peers import ReplyTo

STATE_VERSION = 1


class InputRecord(BaseModel):
    """An input for an agent: the event, its conversation key and where it came from."""

    model_config = ConfigDict(extra="allow")

    payload: Any
    key: str
    source: SourceRef
    carry: dict[str, Any] = Field(default_factory=dict)
    #: Set when the input is another agent's request: whom the task answers when it ends.
    reply: ReplyTo | None = None


class PendingTool(BaseModel):
    call: int
    call_id: str
    tool: str
    arguments: str
    result: str | None = None
    is_error: bool = False
    #: Set when the call is a delegation to this peer agent (not a tool the executor runs).
    peer: str | None = None
    #: When a delegation stops waiting for the peer's answer, or a question for its answer.
    deadline: float = 0.0
    #: Set when the call asks whoever sent the task's request for input (``human_input``):
    #: the question. The task waits in ``TASK_STATE_INPUT_REQUIRED`` until it is answered.
    question: str | None = None


class TaskState(BaseModel):
    """The task a key is working on."""

    model_config = ConfigDict(extra="allow")

    v: int = STATE_VERSION
    id: str
    input: InputRecord
    started_at: float
    #: Model calls issued so far; the step number of the latest one.
    step: int = 0
    #: The conversation of this task: memory snapshot, the input, then each turn.
    messages: list[dict[str, Any]] = Field(default_factory=list)
    #: How many of ``messages`` the audit log already has (``model.request`` sends the rest).
    logged: int = 0
    awaiting: Literal["model", "tools"] = "model"
    tools: list[PendingTool] = Field(default_factory=list)
    repaired: bool = False
    usage: Usage = Field(default_factory=Usage)
    #: When the current step is checked for lost calls (a processing-time timer).
    check_at: float = 0.0
    #: When the current step gives up for good.
    deadline: float = 0.0
    reissues: int = 0
    #: Reflection (``Agent.reflection``): drafts made so far, the latest one, the critic's
    #: conversation while it judges that draft (None while the drafter works), and its verdict.
    drafts: int = 0
    draft: str | None = None
    critique: list[dict[str, Any]] | None = None
    accepted: bool | None = None


class ModelCall(BaseModel):
    """Ask the model: the executor adds the agent's tools and output format.

    A critic's call (``critic``, a reflection's verdict) goes to the critic's model, with
    neither tools nor output format.
    """

    kind: Literal["model"] = "model"
    agent: str
    key: str
    task_id: str
    step: int
    messages: list[dict[str, Any]]
    critic: bool = False

    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, "model.response")


class ToolCall(BaseModel):
    kind: Literal["tool"] = "tool"
    agent: str
    key: str
    task_id: str
    step: int
    call: int
    call_id: str
    tool: str
    arguments: str

    @property
    def id(self) -> str:
        return event_id(self.task_id, self.step, "tool.result", self.call)


Call = ModelCall | ToolCall


class KeyStore(Protocol):
    """The state of one key, as the machine sees it: Flink state in a job, dicts in tests."""

    def task(self) -> TaskState | None: ...
    def has_task(self) -> bool:
        """Whether the key works on a task (cheaper than reading it)."""

    def set_task(self, task: TaskState | None) -> None: ...
    def push(self, item: InputRecord) -> None:
        """Append an input to the key's queue."""

    def pop(self) -> InputRecord | None:
        """Take the oldest waiting input, if any."""

    def queued(self) -> int:
        """How many inputs wait in the key's queue."""

    def drop(self, match: Callable[[InputRecord], bool]) -> InputRecord | None:
        """Take the first waiting input that ``match`` accepts out of the queue, if any."""

    def history(self) -> list[dict[str, Any]]: ...
    def set_history(self, messages: list[dict[str, Any]]) -> None: ...


class MemoryStore:
    """A ``KeyStore`` in plain Python: for tests and for replaying a key outside Flink.

    >>> store = MemoryStore()
    >>> source = SourceRef(topic="t", partition=0, offset=0)
    >>> store.push(InputRecord(payload={"a": 1}, key="k", source=source))
    >>> store.pop().payload, store.pop(), store.task()
    ({'a': 1}, None, None)
    """

    def __init__(self) -> None:
        self._task: TaskState | None = None
        self._queue: deque[InputRecord] = deque()
        self._history: list[dict[str, Any]] = []

    def task(self) -> TaskState | None:
        return self._task

    def has_task(self) -> bool:
        return self._task is not None

    def set_task(self, task: TaskState | None) -> None:
        self._task = task

    def push(self, item: InputRecord) -> None:
        self._queue.append(item)

    def pop(self) -> InputRecord | None:
        return self._queue.popleft() if self._queue else None

    def queued(self) -> int:
        return len(self._queue)

    def waiting(self) -> list[InputRecord]:
        return list(self._queue)

    def drop(self, match: Callable[[InputRecord], bool]) -> InputRecord | None:
        for item in self._queue:
            if match(item):
                self._queue.remove(item)
                return item
        return None

    def history(self) -> list[dict[str, Any]]:
        return list(self._history)

    def set_history(self, messages: list[dict[str, Any]]) -> None:
        self._history = list(messages)
