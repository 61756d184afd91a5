"""Keyed counts: the smallest stateful Kafka -> Flink -> Kafka job of this project.

Reads JSON events from a topic, keys them by a field, keeps per key a count (``ValueState``)
and the last N events (``ListState``), writes ``{"key", "count", "last"}`` for every event,
and sends events it cannot read to a dead-letter topic (a side output) with the reason.

    python jobs/keyed_counts.py --input events --output counts --dead-letters events.dlq
    flink run -d -py jobs/keyed_counts.py --input events --output counts --dead-letters events.dlq
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from flink_agents.config import load_settings
from flink_agents.runtime import SINK_ROW, KafkaTables, environments

DEAD_LETTERS = OutputTag("dead-letters", SINK_ROW)


def key_of(record: Row, field: str) -> str:
    """The key field of a JSON object, or "" for records that are not one (they go to the DLQ)."""
    try:
        value = json.loads(record["value"])
    except (TypeError, ValueError):
        return ""
    return str(value.get(field, "")) if isinstance(value, dict) else ""


class KeyedCounts(KeyedProcessFunction):  # type: ignore[misc]
    def __init__(self, field: str, last: int) -> None:
        self.field = field
        self.last = last

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))
        self.recent = runtime_context.get_list_state(ListStateDescriptor("recent", Types.STRING()))

    def process_element(self, record: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        event = _read(record["value"], self.field)
        if isinstance(event, str):
            reason = {
                "reason": event,
                "topic": record["topic"],
                "partition": record["partition"],
                "offset": record["offset"],
                "value": record["value"],
            }
            yield DEAD_LETTERS, Row(record["key"], json.dumps(reason))
            return
        count = (self.count.value() or 0) + 1
        self.count.update(count)
        recent = [*self.recent.get(), json.dumps(event, sort_keys=True)][-self.last :]
        self.recent.update(recent)
        key = ctx.get_current_key()
        result = {"key": key, "count": count, "last": [json.loads(e) for e in recent]}
        yield Row(key, json.dumps(result))


def _read(value: str | None, field: str) -> dict[str, Any] | str:
    """The event, or the reason it cannot be used."""
    try:
        event = json.loads(value or "")
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(event, dict):
        return f"not a JSON object but {type(event).__name__}"
    if event.get(field) in (None, ""):
        return f"missing key field {field!r}"
    return event


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--dead-letters", required=True)
    parser.add_argument("--key-field", default="key")
    parser.add_argument("--last", type=int, default=5)
    parser.add_argument("--group", default="keyed-counts")
    args = parser.parse_args(argv)

    settings = load_settings()
    env, t_env = environments(settings, "keyed-counts")
    kafka = KafkaTables(t_env, settings.bootstrap_servers, group_id=args.group)
    field = args.key_field
    counts = (
        kafka.source(args.input)
        .key_by(lambda record: key_of(record, field), Types.STRING())
        .process(KeyedCounts(field, args.last), SINK_ROW)
        .uid("keyed-counts")
        .name("keyed counts")
    )
    kafka.sink(counts, args.output)
    kafka.sink(counts.get_side_output(DEAD_LETTERS), args.dead_letters)
    kafka.attach()
    env.execute("keyed-counts")


if __name__ == "__main__":
    main()
