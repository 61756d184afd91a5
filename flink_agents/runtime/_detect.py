"""DetectStep: the keyed Flink function around the anomaly detector's core.

Readings are keyed by the detector's key field in Flink SQL (in Java, like agent inputs);
each key buffers its readings in a ``ListState`` until a window is full, then the core
scores the window against the key's baseline (``ValueState``, JSON) and may emit an
anomaly. Readings that cannot be used go to the dead-letter topic with the reason.

::

    readings ── key (SQL) ─ keyBy(key) ── DetectStep ─┬─ anomalies ─> topic
                 └─ unusable ─> DLQ                   └─ dead letters ─> DLQ
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from flink_agents.api.events import DeadLetter, SourceRef
from flink_agents.detect import AnomalyDetector, DetectorCore, KeyState
from flink_agents.runtime import _router as router
from flink_agents.runtime._kafka_io import SINK_ROW, KafkaTables, side_output

REJECTED = OutputTag("rejected-readings", SINK_ROW)


class DetectStep(KeyedProcessFunction):  # type: ignore[misc]
    def __init__(self, spec: AnomalyDetector) -> None:
        self.spec = spec

    def open(self, runtime_context: RuntimeContext) -> None:
        self.core = DetectorCore(self.spec)
        self.window = runtime_context.get_list_state(
            ListStateDescriptor("detect-window", Types.STRING())
        )
        self.filled = runtime_context.get_state(ValueStateDescriptor("detect-filled", Types.INT()))
        self.baseline = runtime_context.get_state(
            ValueStateDescriptor("detect-baseline", Types.STRING())
        )
        self.anomalies = runtime_context.get_metrics_group().counter("anomalies")

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        key = ctx.get_current_key()
        reading = parse_reading(self.spec, row["value"])
        if isinstance(reading, str):
            yield REJECTED, Row(key, _rejected(row, key, reading).model_dump_json())
            return
        self.window.add(json.dumps(reading))
        filled = (self.filled.value() or 0) + 1
        if filled < self.spec.window:
            self.filled.update(filled)
            return
        rows = [json.loads(r) for r in self.window.get()]
        self.window.clear()
        self.filled.clear()
        raw = self.baseline.value()
        state = KeyState.model_validate_json(raw) if raw else KeyState()
        result = self.core.on_window(state, key, rows)
        self.baseline.update(result.state.model_dump_json())
        if result.anomaly is not None:
            self.anomalies.inc()
            yield Row(key, json.dumps(result.anomaly.to_record(self.spec.key)))


def parse_reading(spec: AnomalyDetector, value: str) -> list[float] | str:
    """``[time, metric...]`` of a reading, or the reason it cannot be used.

    >>> spec = AnomalyDetector(key="m", metrics=["a", "b"])
    >>> parse_reading(spec, '{"m": "x", "ts": 5, "a": 1, "b": 2.5}')
    [5.0, 1.0, 2.5]
    >>> parse_reading(spec, '{"m": "x", "ts": 5, "a": "hot"}')
    "metric 'a' is not a number: 'hot'"
    """
    event = json.loads(value)  # routing kept JSON objects only
    out = []
    for name in (spec.time_field, *spec.metrics):
        field = "time field" if name == spec.time_field else "metric"
        number = event.get(name)
        if number is None:
            return f"missing {field} {name!r}"
        if isinstance(number, bool) or not isinstance(number, int | float):
            return f"{field} {name!r} is not a number: {number!r}"
        if not math.isfinite(number):
            return f"{field} {name!r} is not finite: {number!r}"
        out.append(float(number))
    return out


def _rejected(row: Row, key: str, reason: str) -> DeadLetter:
    return DeadLetter(
        kind="input.rejected",
        reason=f"unusable reading: {reason}",
        key=key,
        source=SourceRef(topic=row["topic"], partition=row["partition"], offset=row["offset"]),
        payload=row["value"],
        at=time.time(),
    )


def attach_detector(
    kafka: KafkaTables,
    spec: AnomalyDetector,
    *,
    readings: str,
    anomalies: str,
    dead_letters: str,
    uid: str,
) -> None:
    """Add ``readings`` ─ DetectStep ─ ``anomalies`` (and rejects to ``dead_letters``) to a job."""
    table = kafka.source_table(readings)
    kafka.insert(
        dead_letters, router.rejected(kafka.source_table(readings, batched=True), spec.key)
    )
    found = (
        kafka.keyed(router.keyed(table, spec.key))
        .process(DetectStep(spec), SINK_ROW)
        .uid(uid)
        .name("AnomalyDetector")
    )
    kafka.sink(found, anomalies)
    kafka.sink(side_output(found, REJECTED), dead_letters)
