"""Replay: a job's inputs of a time range run again, into topics of their own.

``flink-agents replay`` runs a job file with the ``replay`` settings set. The app then
reads its input topics between two timestamps (bounded), writes its outputs, events and
dead letters to ``<topic>.replay.<name>`` and keeps its offsets under a group of its own,
so the live job's topics, offsets and state are never touched. An exact replay serves
every model and tool result from the original events log, found by the deterministic step
id a call expects (``<task>/<step>[.<call>]/<kind>``), and calls nothing: a call without
a recorded result gets an error result, so the task fails visibly instead of calling out.
A what-if replay (a changed job file) makes its calls for real.

A replay from a savepoint (``replay.savepoint``) starts the agent operator (uid
``agents:<app>``) with the state the savepoint holds: each key's memory, running task and
queued inputs. Nothing else is restored: the replay's sources and sinks get uids of their
own, so the live job's offsets and Kafka transactions in the savepoint are left unclaimed
and ignored, and the savepoint is read, never claimed (``NO_CLAIM``).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from flink_agents.api.events import (
    CallError,
    ModelResponse,
    ToolResult,
    routing_key,
)
from flink_agents.config import ReplaySettings
from flink_agents.core import Call, ModelCall
from flink_agents.runtime._recorded import result_id

log = logging.getLogger(__name__)

#: A recorded result: the record's value and key, as written by the original run.
Recorded = tuple[bytes, bytes | None]


class ReplayPlan(BaseModel):
    """What a replay reads and writes; the job writes it to ``home/replays/<name>.json``
    when it is built, and ``flink-agents replay`` and ``diff`` read it."""

    name: str
    mode: Literal["exact", "what-if"]
    app: str
    from_ms: int
    to_ms: int
    events_topic: str
    replay_events_topic: str
    dead_letter_topic: str
    #: input topic -> the agents reading it
    inputs: dict[str, list[str]]
    #: live output topic -> the replay's output topic
    outputs: dict[str, str]
    #: the original run's tasks for the inputs of the range (filled in by ``replay``)
    tasks: list[str] = Field(default_factory=list)
    #: the savepoint the replay started from (None: empty memory)
    savepoint: str | None = None

    @staticmethod
    def path(home: Path, name: str) -> Path:
        return home / "replays" / f"{name}.json"

    def write(self, home: Path) -> Path:
        path = self.path(home, self.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2))
        return path


def replay_topic(topic: str, replay: ReplaySettings) -> str:
    """Where a replay writes what the job writes to ``topic``.

    >>> replay_topic("decisions", ReplaySettings(name="r1"))
    'decisions.replay.r1'
    """
    return f"{topic}.replay.{replay.name}"


def restore_options(replay: ReplaySettings) -> dict[str, str]:
    """Flink options that start a replay from its savepoint: only state whose operator uid
    the replay shares with the live job (the agent operator) is restored; the Table API
    sources and sinks get uids of the replay's own, so their live state is left unclaimed.

    >>> options = restore_options(ReplaySettings(name="r1", savepoint="/sp/savepoint-1"))
    >>> options["execution.state-recovery.path"], options["table.exec.uid.format"]
    ('/sp/savepoint-1', 'replay-r1-<id>_<transformation>')
    >>> restore_options(ReplaySettings(name="r1"))
    {}
    """
    if not (replay.active and replay.savepoint):
        return {}
    return {
        "execution.state-recovery.path": replay.savepoint,
        "execution.state-recovery.claim-mode": "NO_CLAIM",
        "execution.state-recovery.ignore-unclaimed-state": "true",
        "table.exec.uid.generation": "ALWAYS",
        "table.exec.uid.format": f"replay-{replay.name}-<id>_<transformation>",
    }


@dataclass(frozen=True)
class RecordedLog:
    """The result events of an events topic written at or after ``since_ms``."""

    bootstrap_servers: str
    topic: str
    since_ms: int

    def load(self, timeout_s: float = 300.0) -> dict[str, Recorded]:
        """Read the results up to the end the topic has now, by event id (blocking)."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"flink-agents-replay-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        found: dict[str, Recorded] = {}
        try:
            metadata = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
            if metadata is None or metadata.error is not None:
                raise LookupError(f"events topic {self.topic} does not exist")
            wanted = [TopicPartition(self.topic, p, self.since_ms) for p in metadata.partitions]
            starts = consumer.offsets_for_times(wanted, timeout=10)
            ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in wanted}
            todo = {s.partition: s for s in starts if 0 <= s.offset < ends[s.partition]}
            if todo:
                consumer.assign(list(todo.values()))
            deadline = time.monotonic() + timeout_s
            while todo and time.monotonic() < deadline:
                for message in consumer.consume(1000, 0.5):
                    if message.error():
                        continue
                    partition, offset = message.partition() or 0, message.offset() or 0
                    if offset + 1 >= ends[partition]:
                        todo.pop(partition, None)
                    event_id, value = result_id(message), message.value()
                    if event_id and value is not None:
                        # The first record of an id is the one the run applied (a repeated
                        # call may have been answered differently, and was ignored).
                        found.setdefault(event_id, (value, message.key()))
            if todo:
                raise TimeoutError(f"reading {self.topic} took longer than {timeout_s:.0f}s")
        finally:
            consumer.close()
        log.info("%d recorded results in %s to replay", len(found), self.topic)
        return found


def not_recorded(call: Call, topic: str) -> ModelResponse | ToolResult:
    """The result an exact replay gives a call the original run never made."""
    reason = (
        f"exact replay: no recorded result {call.id} in {topic}; the replayed job asked for "
        "a call the original run did not make (use a what-if replay to make new calls)"
    )
    base = {"agent": call.agent, "key": call.key, "task_id": call.task_id, "step": call.step}
    if isinstance(call, ModelCall):
        error = CallError(type="NotRecorded", message=reason, retryable=False)
        return ModelResponse(**base, error=error, at=time.time())
    return ToolResult(
        **base,
        call=call.call,
        call_id=call.call_id,
        tool=call.tool,
        content=reason,
        is_error=True,
        at=time.time(),
    )


def recorded_key(call: Call, recorded: Recorded) -> bytes:
    return recorded[1] or routing_key(call.agent, call.key).encode()
