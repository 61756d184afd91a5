"""Results already in the agent events log: after a failure they are read, not requested.

When a job restarts from a checkpoint, calls it had issued may have been answered and
logged after that checkpoint. The executor scans the recent log once at start-up and skips
calls whose result is there: the operator will read that result from the log anyway.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from flink_agents.api.events import RESULT_KINDS
from flink_agents.runtime._kafka_io import KIND_HEADER

log = logging.getLogger(__name__)


def recorded_results(
    bootstrap_servers: str, topic: str, lookback_s: float, timeout_s: float = 60.0
) -> set[str]:
    """Ids of result events written to ``topic`` in the last ``lookback_s`` seconds."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"flink-agents-scan-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    found: set[str] = set()
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return found
        since = int((time.time() - lookback_s) * 1000)
        wanted = [TopicPartition(topic, p, since) for p in metadata.partitions]
        starts = consumer.offsets_for_times(wanted, timeout=10)
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in wanted}
        todo = {s.partition: s for s in starts if s.offset >= 0 and s.offset < ends[s.partition]}
        if not todo:
            return found
        consumer.assign(list(todo.values()))
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            if offset + 1 >= ends[partition]:
                todo.pop(partition, None)
            kind = dict(message.headers() or []).get(KIND_HEADER)
            value = message.value()
            if kind is not None and _text(kind) in RESULT_KINDS and value is not None:
                event_id = json.loads(value).get("id")
                if event_id:
                    found.add(event_id)
        if todo:
            log.warning(
                "stopped scanning %s after %.0fs; %d partitions unread", topic, timeout_s, len(todo)
            )
    finally:
        consumer.close()
    return found


def _text(raw: str | bytes) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
