"""Where the bytes go: every record a workload writes to Kafka, summed by topic and kind.

``python -m bench.record_bytes --inputs 200`` starts its own Kafka (free ports, a temporary
home) and the model simulator at 0 ms, runs each workload (``--workloads classifier react``)
as ``bench/jobs/agent_job.py`` on a MiniCluster for that many inputs over 50 keys, waits
until every input has its answer and its task's last step is logged, stops the job, and
then reads every topic of the run back. It prints, per step (model and tool calls):

- the bytes of the records' keys, values and headers, by topic and by the record's kind
  (the ``fa-kind`` header), and by event kind inside the events topic's ``step`` records;
- the bytes the broker stored for those topics (its log segments: record batches with
  their own headers, compressed when the producers compress), which is what its
  ``BytesInPerSec`` counter counts;
- the broker's CPU seconds over the run, read from ``/proc`` (the broker serves this run
  only, but also its idle housekeeping: compare runs of the same length).

The counts do not depend on the machine's load, so they show a change of design exactly.
``--compression lz4`` sets ``runtime.producer_compression`` for the job.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from bench._isolated import start_kafka
from bench.workloads import TOOL_CALLS, event, script
from flink_agents.api.events import KIND_HEADER
from flink_agents.testing import JobProcess, ModelServer, TopicClient

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "bench/jobs/agent_job.py"
#: Six inputs a key at the default 300: most tasks have a full memory, as in a long run.
KEYS = 50
#: Inputs answered before the broker's CPU is counted (the job's start is not measured).
WARM_UP = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=300)
    parser.add_argument("--workloads", nargs="+", default=["classifier", "react"])
    parser.add_argument("--compression", default=None, help="runtime.producer_compression")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    kafka = start_kafka("record-bytes")
    topics = TopicClient(kafka.settings.kafka.bootstrap_servers)
    env = kafka.job_env()
    if args.compression:
        env["FLINK_AGENTS_RUNTIME__PRODUCER_COMPRESSION"] = args.compression
    results = {}
    try:
        with ModelServer(script) as sim:
            for workload in args.workloads:
                results[workload] = measure(kafka, topics, env, sim.base_url, workload, args.inputs)
                print(report(workload, results[workload]), flush=True)
    finally:
        topics.close()
        kafka.broker.stop()
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def measure(
    kafka: Any, topics: TopicClient, env: dict[str, str], model_url: str, workload: str, n: int
) -> dict[str, Any]:
    app = topics.unique(f"bytes-{workload}")
    source, output = f"{app}.in", f"{app}.out"
    topics.create(source, output)
    job_args = ["--workload", workload, "--capacity", "64", "--app", app]
    job_args += ["--input", source, "--output", output, "--model-url", model_url]
    job = JobProcess(JOB, job_args, env, kafka.home / f"{app}.log").start()
    pid = kafka.broker.pid()
    inputs = [event(i, KEYS) for i in range(n + WARM_UP)]
    try:
        topics.produce(source, inputs[n:], key=lambda e: str(e["key"]))
        topics.consume(output, count=WARM_UP, timeout=600)
        cpu_before = _cpu_seconds(pid)
        topics.produce(source, inputs[:n], key=lambda e: str(e["key"]))
        topics.consume(output, count=n + WARM_UP, timeout=600)
        topics.events(
            f"{app}.events",
            until=lambda es: sum(e.get("kind") == "task.completed" for e in es) >= n + WARM_UP,
            timeout=120,
        )
        cpu_after = _cpu_seconds(pid)
    finally:
        job.stop()
    per_task = 1 + 2 * TOOL_CALLS[workload]  # model calls + tool calls
    steps = (n + WARM_UP) * per_task
    written = [source, output, f"{app}.events", f"{app}.dlq"]
    figures = count_bytes(kafka.settings.kafka.bootstrap_servers, written)
    stored = {t: _stored_bytes(kafka.broker.root / "data", t) for t in written}
    return {
        "inputs": n,
        "steps": steps,
        "records": figures["records"],
        "bytes": figures["bytes"],
        "events": figures["events"],
        "stored_bytes": stored,
        "broker_cpu_s": cpu_after - cpu_before,
        "measured_steps": n * per_task,
        "topics": {"input": source, "output": output, "events": f"{app}.events"},
    }


def count_bytes(bootstrap: str, topics: list[str]) -> dict[str, Counter[str]]:
    """Records and bytes (key + value + header names and values) by ``topic kind``, and the
    bytes of each event kind inside ``step`` records (its JSON, comma included)."""
    records: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    events: Counter[str] = Counter()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bytes-{time.time_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        for topic in topics:
            end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
            consumer.assign([TopicPartition(topic, 0, 0)])
            position = 0
            while position < end:
                message = consumer.poll(1.0)
                if message is None or message.error():
                    continue
                position = message.offset() + 1
                headers = dict(message.headers() or [])
                kind = (headers.get(KIND_HEADER) or b"-").decode()
                size = len(message.key() or b"") + len(message.value() or b"")
                size += sum(len(k) + len(v or b"") for k, v in headers.items())
                label = f"{_short(topic)} {kind}"
                records[label] += 1
                sizes[label] += size
                if kind == "step":
                    # As written: a compact step's events leave out what the record states.
                    for inner in json.loads(message.value()).get("events") or []:
                        events[inner.get("kind", "?")] += len(_compact_json(inner)) + 1
    finally:
        consumer.close()
    return {"records": records, "bytes": sizes, "events": events}


def report(workload: str, r: dict[str, Any]) -> str:
    steps = r["steps"]
    lines = [f"\n{workload}: {r['inputs']} inputs, {steps} steps (model and tool calls)"]
    lines.append("| topic, record kind | records per step | bytes per step |")
    lines.append("| --- | --- | --- |")
    for label in sorted(r["bytes"]):
        lines.append(
            f"| {label} | {r['records'][label] / steps:.2f} | {r['bytes'][label] / steps:.0f} |"
        )
    total = sum(r["bytes"].values())
    lines.append(f"| all | {sum(r['records'].values()) / steps:.2f} | {total / steps:.0f} |")
    lines.append("\nevents inside step records, bytes per step (each event's JSON as written):")
    for kind, size in sorted(r["events"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {kind}: {size / steps:.0f}")
    stored = sum(r["stored_bytes"].values())
    lines.append(f"broker log bytes per step: {stored / steps:.0f}")
    cpu_ms = r["broker_cpu_s"] * 1000 / r["measured_steps"]
    lines.append(f"broker CPU ms per step (after the warm-up): {cpu_ms:.3f}")
    return "\n".join(lines)


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _short(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


def _stored_bytes(data: Path, topic: str) -> int:
    return sum(f.stat().st_size for f in data.glob(f"{topic}-*/*.log"))


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
