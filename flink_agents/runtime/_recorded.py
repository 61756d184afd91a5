"""Results already in the agent events log: after a failure they are replayed, not requested.

When a job restarts from a checkpoint it processes again the inputs and results that came
after that checkpoint, in whatever order its sources deliver them. A call it issues again
may already have its result in the log, and that result may even have been read back
before the task reached the step (then it was ignored as early). So the executor scans
the recent log once at start-up, remembers where each result is, and answers such a call
by writing the recorded result again: the same answer, no second model or tool call.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

from flink_agents.api.events import RESULT_KINDS
from flink_agents.runtime._kafka_io import KIND_HEADER

log = logging.getLogger(__name__)

#: Where a recorded result is: (partition, offset).
Location = tuple[int, int]


class RecordedResults:
    """Result ids of the recent events log, and the records themselves on demand."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._lock = threading.Lock()
        self._reader: Any = None

    def scan(self, lookback_s: float, timeout_s: float = 60.0) -> dict[str, Location]:
        """Where each result event of the last ``lookback_s`` seconds is."""
        consumer = self._consumer()
        found: dict[str, Location] = {}
        try:
            metadata = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
            if metadata is None or metadata.error is not None:
                return found
            partitions = list(metadata.partitions)
            todo = self._start_positions(consumer, partitions, lookback_s)
            if todo:
                consumer.assign(list(todo.values()))
            deadline = time.monotonic() + timeout_s
            while todo and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                if message.error():
                    if message.error().code() == _partition_eof():
                        todo.pop(message.partition(), None)
                    continue
                event_id = result_id(message)
                if event_id:
                    found[event_id] = (message.partition() or 0, message.offset() or 0)
            if todo:
                log.warning("stopped scanning %s after %.0fs", self.topic, timeout_s)
        finally:
            consumer.close()
        return found

    def fetch(self, location: Location) -> tuple[bytes, bytes | None] | None:
        """The value and key of the record at ``location`` (blocking: call it in a thread)."""
        from confluent_kafka import TopicPartition

        partition, offset = location
        with self._lock:
            if self._reader is None:
                self._reader = self._consumer()
            self._reader.assign([TopicPartition(self.topic, partition, offset)])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                message = self._reader.poll(0.5)
                if message is None or message.error():
                    continue
                if message.offset() == offset and message.partition() == partition:
                    value = message.value()
                    return (value, message.key()) if value is not None else None
        return None

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _consumer(self) -> Any:
        from confluent_kafka import Consumer

        return Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"flink-agents-scan-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )

    def _start_positions(
        self, consumer: Any, partitions: list[int], lookback_s: float
    ) -> dict[int, Any]:
        """Per partition with records to read, where to start reading."""
        from confluent_kafka import TopicPartition

        since = int((time.time() - lookback_s) * 1000)
        wanted = [TopicPartition(self.topic, p, since) for p in partitions]
        starts = {s.partition: s for s in consumer.offsets_for_times(wanted, timeout=10)}
        todo = {}
        for partition, start in starts.items():
            end = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), 10)[1]
            if 0 <= start.offset < end:
                todo[partition] = start
        return todo


def _partition_eof() -> int:
    from confluent_kafka import KafkaError

    return int(KafkaError._PARTITION_EOF)


def result_id(message: Any) -> str | None:
    """The step id of a model or tool result record of the events log; None for others."""
    kind = dict(message.headers() or []).get(KIND_HEADER)
    value = message.value()
    if kind is None or value is None:
        return None
    if (kind.decode() if isinstance(kind, bytes) else kind) not in RESULT_KINDS:
        return None
    event_id = json.loads(value).get("id")
    return str(event_id) if event_id else None
