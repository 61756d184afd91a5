"""The gateway's reply topic: agents' answers become new versions of the gateway's tasks.

Read by a consumer group shared by every gateway instance, so each answer is applied by one
of them, and a gateway restarted mid-task applies what arrived meanwhile (its offsets are
committed after the task is written).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from google.protobuf import json_format

from flink_agents.a2a import _binding as b
from flink_agents.a2a._tasks import TaskBook

log = logging.getLogger(__name__)

#: The topic agents answer the gateway's requests on, and the group that reads it.
REPLIES_TOPIC = b.GATEWAY_REPLIES_TOPIC
GROUP = "flink-agents-a2a-gateway"


class ReplyReader:
    """Applies each answer in the reply topic to the task it answers."""

    def __init__(self, bootstrap_servers: str, book: TaskBook) -> None:
        self.bootstrap_servers, self._book = bootstrap_servers, book
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="a2a-replies", daemon=True)

    def start(self) -> ReplyReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": GROUP,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        consumer.subscribe([REPLIES_TOPIC])
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.2)
                if message is None or message.error():
                    continue
                raw = message.headers() or []
                pairs = raw.items() if isinstance(raw, dict) else raw
                headers = {k: v for k, v in pairs if isinstance(v, bytes)}
                self.apply(message.value(), headers)
                consumer.commit(message=message, asynchronous=False)
        finally:
            consumer.close()

    def apply(self, value: bytes | None, headers: dict[str, bytes]) -> None:
        """One answer: the agent's task (or status update) merged into the gateway's task."""
        from a2a.types import StreamResponse

        try:
            response = json_format.Parse(value or b"", StreamResponse(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            log.warning("a record of %s is not an A2A StreamResponse: %s", REPLIES_TOPIC, exc)
            return
        which = response.WhichOneof("payload")
        if which == "task":
            task_id, context_id, status, artifacts, metadata = (
                response.task.id,
                response.task.context_id,
                response.task.status,
                response.task.artifacts,
                response.task.metadata,
            )
        elif which == "status_update":
            task_id, context_id, status, artifacts, metadata = (
                response.status_update.task_id,
                response.status_update.context_id,
                response.status_update.status,
                [],
                response.status_update.metadata,
            )
        else:
            return
        correlation = (headers.get(b.CORRELATION_ID) or b"").decode()
        known = self._book.get(task_id) or self._book.get(correlation)
        if known is None and "requester" in metadata:
            known = shown_task(task_id, context_id, metadata)
        if known is None:
            log.warning(
                "an answer in %s for task %s, which no gateway started", REPLIES_TOPIC, task_id
            )
            return
        _merge(known, status, artifacts)
        self._book.put_from_thread(known)


def shown_task(task_id: str, context_id: str, metadata: Any) -> Any:
    """A task another agent asked for, first seen through a copy of its agent's answer
    (``Agent.show_in_gateway``): its request is the first message of its history.

    >>> from google.protobuf.struct_pb2 import Struct
    >>> meta = Struct()
    >>> meta.update({"agent": "review", "requester": "triage", "request": "card 7?"})
    >>> task = shown_task("review/t1", "triage/card-7", meta)
    >>> task.metadata["requester"], task.history[0].parts[0].text, task.history[0].role
    ('triage', 'card 7?', 1)
    """
    from a2a.types import Message, Part, Role, Task

    task = Task(id=task_id, context_id=context_id)
    task.metadata.update({"agent": str(metadata["agent"]), "requester": str(metadata["requester"])})
    request = str(metadata["request"]) if "request" in metadata else ""
    if request:
        task.history.append(
            Message(
                message_id=f"{task_id}/request",
                context_id=context_id,
                task_id=task_id,
                role=Role.ROLE_USER,
                parts=[Part(text=request)],
            )
        )
    return task


def _merge(task: Any, status: Any, artifacts: Any) -> None:
    task.status.CopyFrom(status)
    if artifacts:
        del task.artifacts[:]
        task.artifacts.extend(artifacts)
    known = {m.message_id for m in task.history}
    if status.HasField("message") and status.message.message_id not in known:
        message = type(status.message)()
        message.CopyFrom(status.message)
        message.task_id, message.context_id = task.id, task.context_id
        task.history.append(message)
