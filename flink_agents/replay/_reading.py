"""Reading the topics a replay compares: the original run's tasks, and output records."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flink_agents.api.events import KIND_HEADER, RESULT_KINDS, events_in, task_id_for
from flink_agents.runtime import ReplayPlan


def consumer(bootstrap_servers: str) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"flink-agents-replay-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )


def offset_ranges(bootstrap_servers: str, plan: ReplayPlan) -> dict[tuple[str, int], range]:
    """The offsets of each input partition whose records fall in the plan's time range."""
    from confluent_kafka import TopicPartition

    reader = consumer(bootstrap_servers)
    ranges: dict[tuple[str, int], range] = {}
    try:
        for topic in plan.inputs:
            metadata = reader.list_topics(topic, timeout=10).topics[topic]
            for partition in metadata.partitions:
                end = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
                first, last = (  # one request each: a request names a partition once
                    reader.offsets_for_times([TopicPartition(topic, partition, ms)], timeout=10)[
                        0
                    ].offset
                    for ms in (plan.from_ms, plan.to_ms)
                )
                ranges[(topic, partition)] = range(
                    first if first >= 0 else end, last if last >= 0 else end
                )
    finally:
        reader.close()
    return ranges


def original_tasks(bootstrap_servers: str, plan: ReplayPlan) -> list[str]:
    """Ids of the tasks the original run had for the inputs of the plan's range.

    A task's id follows from its input's place (``task_id_for``), so the range's inputs name
    every task the run could have had; of those, the ones it had are the ones its log
    accepted (``task.accepted``, in a full log), made a call for (a result under the task's
    id) or answered (an output carrying the task's id). A log at ``runtime.events_log:
    results`` holds no ``task.accepted``, and the results and outputs still name its tasks.
    """
    candidates = range_tasks(offset_ranges(bootstrap_servers, plan), plan.inputs)
    had: set[str] = set()

    def take(kind: str, value: dict[str, Any]) -> None:
        if value.get("task_id") in candidates:
            had.add(value["task_id"])

    kinds = ["task.accepted", *RESULT_KINDS]
    read_to_end(bootstrap_servers, plan.events_topic, plan.from_ms, dict.fromkeys(kinds, take))
    for topic in plan.outputs:
        read_records(bootstrap_servers, topic, plan.from_ms, lambda m: _answered(m, had))
    return [task for task in candidates if task in had]


def range_tasks(
    ranges: dict[tuple[str, int], range], inputs: dict[str, list[str]]
) -> dict[str, None]:
    """The ids the tasks of the inputs in ``ranges`` have, in input order, for each agent
    reading their topic.

    >>> ids = range_tasks({("tx", 0): range(3, 5)}, {"tx": ["triage"]})
    >>> list(ids) == [task_id_for("triage", "tx", 0, 3), task_id_for("triage", "tx", 0, 4)]
    True
    """
    return {
        task_id_for(agent, topic, partition, offset): None
        for (topic, partition), offsets in sorted(ranges.items())
        for offset in offsets
        for agent in inputs.get(topic, [])
    }


def _answered(message: Any, had: set[str]) -> None:
    """Note the task an output record answers (records that are not outputs are skipped)."""
    try:
        value = json.loads(message.value())
    except ValueError:
        return
    task = value.get("task") if isinstance(value, dict) else None
    if isinstance(task, dict) and isinstance(task.get("id"), str):
        had.add(task["id"])


def read_to_end(
    bootstrap_servers: str,
    topic: str,
    since_ms: int,
    handlers: dict[str, Callable[[str, dict[str, Any]], None]],
    timeout_s: float = 300.0,
) -> None:
    """Hand each event of ``topic``'s records from ``since_ms`` to the end it has now to the
    handler of its kind (a ``step`` record's events one by one)."""

    def hand(message: Any) -> None:
        kind = dict(message.headers() or []).get(KIND_HEADER)
        for event in events_in(kind, message.value()):
            handler = handlers.get(str(event.get("kind")))
            if handler is not None:
                handler(str(event["kind"]), event)

    read_records(bootstrap_servers, topic, since_ms, hand, timeout_s)


def read_records(
    bootstrap_servers: str,
    topic: str,
    since_ms: int,
    take: Callable[[Any], None],
    timeout_s: float = 300.0,
) -> None:
    """Hand each record of ``topic`` from ``since_ms`` to the end it has now to ``take``."""
    from confluent_kafka import TopicPartition

    reader = consumer(bootstrap_servers)
    try:
        metadata = reader.list_topics(topic, timeout=10).topics[topic]
        wanted = [TopicPartition(topic, p, since_ms) for p in metadata.partitions]
        ends = {p.partition: reader.get_watermark_offsets(p, timeout=10)[1] for p in wanted}
        starts = reader.offsets_for_times(wanted, timeout=10)
        todo = {s.partition: s for s in starts if 0 <= s.offset < ends[s.partition]}
        if todo:
            reader.assign(list(todo.values()))
        deadline = time.monotonic() + timeout_s
        # Transactional topics end in commit markers no consumer sees: the position, not the
        # last offset read, says when a partition has been read to its end.
        while todo and time.monotonic() < deadline:
            for message in reader.consume(1000, 0.5):
                if message.error() is None and message.value() is not None:
                    take(message)
            for tp in reader.position(list(todo.values())):
                if tp.offset >= ends[tp.partition]:
                    todo.pop(tp.partition, None)
        if todo:
            raise TimeoutError(f"reading {topic} took longer than {timeout_s:.0f}s")
    finally:
        reader.close()


def outputs(
    bootstrap_servers: str, topics: Iterable[str], timeout_s: float = 120.0
) -> list[dict[str, Any]]:
    """Every output record of ``topics`` up to their ends now."""
    from confluent_kafka import TopicPartition

    reader = consumer(bootstrap_servers)
    found: list[dict[str, Any]] = []
    try:
        assigned = []
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            for partition in reader.list_topics(topic, timeout=10).topics[topic].partitions:
                tp = TopicPartition(topic, partition, 0)
                low, high = reader.get_watermark_offsets(tp, timeout=10)
                if high > low:
                    assigned.append(TopicPartition(topic, partition, low))
                    ends[(topic, partition)] = high
        if assigned:
            reader.assign(assigned)
        deadline = time.monotonic() + timeout_s
        # Transactional topics end in commit markers no consumer sees: the position, not the
        # last offset read, says when a partition has been read to its end.
        while ends and time.monotonic() < deadline:
            for message in reader.consume(1000, 0.5):
                if message.error() is None and message.value() is not None:
                    found.append(json.loads(message.value()))
            for tp in reader.position(assigned):
                if tp.offset >= ends.get((tp.topic, tp.partition), 0):
                    ends.pop((tp.topic, tp.partition), None)
        if ends:
            raise TimeoutError(f"reading {sorted(ends)} took longer than {timeout_s:.0f}s")
    finally:
        reader.close()
    return found
