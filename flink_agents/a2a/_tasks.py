"""The gateway's tasks: A2A ``Task`` JSON in a compacted Kafka topic, keyed by task id.

Every gateway instance reads the whole topic into memory and writes each change of a task
to it, so a restarted gateway, or a second one behind the same URL, answers ``GetTask`` and
``ListTasks`` the same. A task that reached a terminal state is never taken back to an
earlier one (a late or repeated record cannot undo an ending).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from google.protobuf import json_format

from flink_agents.a2a._kafka import AsyncProducer, CompactedReader, ensure_topic
from flink_agents.a2a._wire import to_json
from flink_agents.core import INTERRUPTED, TERMINAL

#: The compacted topic of the gateway's tasks.
TASKS_TOPIC = "a2a.tasks"


def state_name(task: Any) -> str:
    from a2a.types import TaskState

    return str(TaskState.Name(task.status.state))


def is_final(task: Any) -> bool:
    """Whether a task ended or waits for its client (a stream closes, a blocking send returns)."""
    name = state_name(task)
    return name in TERMINAL or name in INTERRUPTED


class TaskBook:
    """The tasks of the topic, by id, and the loop's subscribers to their changes."""

    def __init__(self, bootstrap_servers: str, producer: AsyncProducer) -> None:
        ensure_topic(bootstrap_servers, TASKS_TOPIC, compacted=True)
        self._producer = producer
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._watchers: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]]] = {}
        self._reader = CompactedReader(bootstrap_servers, TASKS_TOPIC, self._on_record)

    def start(self, timeout: float = 60.0) -> TaskBook:
        self._reader.start().wait_caught_up(timeout)
        return self

    def stop(self) -> None:
        self._reader.stop()

    def get(self, task_id: str) -> Any | None:
        """A copy of the task, or None."""
        with self._lock:
            task = self._tasks.get(task_id)
            return _copy(task) if task is not None else None

    def of_agent(self, agent: str) -> list[Any]:
        """Copies of the agent's tasks, the most recently changed first."""
        with self._lock:
            tasks = [_copy(t) for t in self._tasks.values() if t.metadata["agent"] == agent]
        return sorted(tasks, key=lambda t: (t.status.timestamp.ToNanoseconds(), t.id), reverse=True)

    async def put(self, task: Any) -> None:
        """Write a task (stamped now) and return once Kafka has it and this view shows it."""
        task.status.timestamp.GetCurrentTime()
        await self._producer.send(TASKS_TOPIC, task.id, to_json(task), {})
        self._apply(task.id, _copy(task))

    def put_from_thread(self, task: Any, timeout: float = 30.0) -> None:
        task.status.timestamp.GetCurrentTime()
        self._producer.write(TASKS_TOPIC, task.id, to_json(task), {}, timeout)
        self._apply(task.id, _copy(task))

    @contextmanager
    def watch(self, task_id: str) -> Iterator[asyncio.Queue[Any]]:
        """A queue that receives each new version of the task while the block runs."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._watchers.setdefault(task_id, []).append(entry)
        try:
            yield queue
        finally:
            with self._lock:
                watchers = self._watchers.get(task_id, [])
                if entry in watchers:
                    watchers.remove(entry)
                if not watchers:
                    self._watchers.pop(task_id, None)

    def _on_record(self, key: str, value: bytes | None) -> None:
        from a2a.types import Task

        if value is None:
            with self._lock:
                self._tasks.pop(key, None)
            return
        try:
            task = json_format.Parse(value, Task(), ignore_unknown_fields=True)
        except json_format.ParseError:
            return  # not a task: the topic keeps only what reads as one
        if "agent" in task.metadata:
            self._apply(key, task)

    def _apply(self, task_id: str, task: Any) -> None:
        with self._lock:
            known = self._tasks.get(task_id)
            if known is not None and _ended(known) and not _ended(task):
                return
            if known is not None and known == task:
                return
            self._tasks[task_id] = task
            watchers = list(self._watchers.get(task_id, []))
        for loop, queue in watchers:
            loop.call_soon_threadsafe(queue.put_nowait, _copy(task))


def _ended(task: Any) -> bool:
    return state_name(task) in TERMINAL


def _copy(task: Any) -> Any:
    copy = type(task)()
    copy.CopyFrom(task)
    return copy
