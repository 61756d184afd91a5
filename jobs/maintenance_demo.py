"""`make demo-maintenance`: the predictive-maintenance job end to end on the local stack.

Starts Kafka and Flink (unless they already run) and the model simulator (unless a real
model is configured), builds the warehouse, submits jobs/maintenance.py, replays simulated
sensor readings of a fleet with faults injected into some machines, waits until the job has
read them all, and ends with one line that starts ``maintenance demo ok:`` with the counts
(readings, anomalies, actions, parts plans the parts-planner agent gave over A2A, work orders),
the precision and recall of the detector and of the agent's actions against the injected
faults, and the detection delay and latency. Everything it started is stopped at the end;
``--keep`` leaves the stack up.

    python -m jobs.maintenance_demo [--machines 6] [--readings 400] [--rate 400] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

from flink_agents.config import Settings, load_settings
from flink_agents.detect import Incident, score
from flink_agents.errors import FlinkAgentsError
from flink_agents.local._jobs import ClusterJobs
from flink_agents.local._process import poll
from flink_agents.testing import stop_process
from flink_agents.testing._kafka import Record, TopicClient
from flink_agents.testing.model_server import spawn
from jobs.demo import console, local_stack, stop_job
from jobs.tools.plant_data import build_warehouse
from jobs.tools.sensors import STEP_S, Fault, fleet, machine_ids

ROOT = Path(__file__).resolve().parent.parent
APP = "maintenance"
TOPICS = (
    *(f"{APP}.{t}" for t in ("readings", "anomalies", "actions", "parts-plans", "events", "dlq")),
    "a2a.inbox.parts-planner",
)
FAULT_KINDS = ("bearing_wear", "overheating", "leak")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=6)
    parser.add_argument("--readings", type=int, default=400, help="per machine, one a minute")
    parser.add_argument("--rate", type=float, default=400.0, help="readings sent per second")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="simulated model latency")
    parser.add_argument("--keep", action="store_true", help="leave Kafka and Flink running")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.machines < 2 or args.readings < 300:
        parser.error("use at least 2 machines and 300 readings (warm-up takes 200)")
    started = time.monotonic()
    settings = load_settings()
    with ExitStack() as cleanup:
        try:
            stack = cleanup.enter_context(local_stack(settings, keep=args.keep))
            model_env = cleanup.enter_context(model_endpoint(args.latency_ms))
            summary = run(settings, ClusterJobs(stack.flink), model_env, args, cleanup)
        except (FlinkAgentsError, RuntimeError, TimeoutError, OSError) as exc:
            console.print(f"[red]demo failed:[/red] {type(exc).__name__}: {exc}")
            return 1
    console.print(f"maintenance demo ok: {summary}, {time.monotonic() - started:.1f} s")
    return 0


def faults(machines: int, readings: int) -> list[Fault]:
    """One fault of each kind on every other machine from the second, starting at staggered
    times after the warm-up; the first machine and every odd one stay healthy."""
    ids = machine_ids(machines)[1::2]
    span = max(1, readings - 260)
    return [
        Fault(machine, FAULT_KINDS[i % len(FAULT_KINDS)], 220 + (37 * i) % span)
        for i, machine in enumerate(ids)
    ]


def run(
    settings: Settings, jobs: ClusterJobs, model_env: dict[str, str], args: Any, cleanup: ExitStack
) -> str:
    demo = (settings.home / "demo").resolve()
    warehouse = build_warehouse(demo / "plant.duckdb", machines=args.machines)
    workorders = demo / "workorders.db"
    workorders.unlink(missing_ok=True)
    topics = TopicClient(settings.bootstrap_servers)
    topics.delete(*TOPICS, timeout=120)
    topics.delete_groups(f"flink-agents.{APP}", timeout=120)  # slow on a fresh broker
    topics.create(*TOPICS)
    env = {**model_env, "MAINT_WAREHOUSE": str(warehouse), "MAINT_WORKORDERS": str(workorders)}
    console.print("submitting jobs/maintenance.py to the local Flink cluster")
    job_id = jobs.submit(ROOT / "jobs" / "maintenance.py", env=env)
    cleanup.callback(stop_job, jobs, job_id)
    jobs.wait_running(job_id)

    injected = faults(args.machines, args.readings)
    readings, truth = fleet(args.machines, args.readings, injected)
    (demo / "maintenance-truth.json").write_text(
        json.dumps([i.model_dump() for i in truth], indent=1)
    )
    console.print(
        f"sending {len(readings)} readings of {args.machines} machines at {args.rate:g}/s; "
        "faults: " + ", ".join(f"{f.machine_id} {f.kind} from reading {f.start}" for f in injected)
    )
    send(topics, readings, args.rate)
    wait_read(topics, f"{APP}.readings", args.timeout)
    anomalies = everything(topics, f"{APP}.anomalies")
    for a in anomalies:
        top = a.value["contributors"][0]
        console.print(
            f"anomaly {a.value['anomaly_id']}: score {a.value['score']:.0f}, led by "
            f"{top['metric']} {top['value']} (expected {top['expected']})"
        )
    ids = {a.value["anomaly_id"] for a in anomalies}
    actions = topics.consume(
        f"{APP}.actions",
        until=lambda rs: ids <= {r.value.get("anomaly_id") for r in rs},
        timeout=args.timeout,
    )
    for action in actions:
        a = action.value
        console.print(
            f"{a['machine_id']}: {a.get('action', 'FAILED')} {a.get('work_order_id') or ''} "
            f"{a.get('priority') or ''} {a.get('reason') or a['task'].get('error', '')}"
        )
        if a.get("parts_plan"):
            console.print(f"  parts plan (from parts-planner over A2A): {a['parts_plan']}")
    return summary(readings, truth, anomalies, actions, topics, workorders)


def summary(
    readings: list[dict[str, Any]],
    truth: list[Incident],
    anomalies: list[Record],
    actions: list[Record],
    topics: TopicClient,
    workorders: Path,
) -> str:
    detected = score(truth, [(a.value["machine_id"], a.value["detected_at"]) for a in anomalies])
    with closing(sqlite3.connect(workorders)) as con:
        orders = con.execute("SELECT machine_id, anomaly_id FROM work_orders").fetchall()
    # An action counts at the time of the anomaly it answers.
    detected_at = {a.value["anomaly_id"]: a.value["detected_at"] for a in anomalies}
    acted = score(
        truth,
        [
            (r.value["machine_id"], detected_at[r.value["anomaly_id"]])
            for r in actions
            if r.value.get("action") in ("CREATED", "UPDATED")
        ],
    )
    kinds = Counter(r.value.get("action", "FAILED") for r in actions)
    plans = sum(1 for r in actions if r.value.get("parts_plan"))
    latency = detection_latency(topics, anomalies)
    delay = statistics.median(detected.delays) / STEP_S if detected.delays else float("nan")
    return (
        f"{len(readings)} readings, {len(anomalies)} anomalies, {len(actions)} actions ("
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + f"), {plans} parts plans, {len(orders)} work orders; "
        f"detector precision {detected.precision:.2f} recall {detected.recall:.2f}; "
        f"actions precision {acted.precision:.2f} recall {acted.recall:.2f}; "
        f"detection delay {delay:.0f} readings (median), latency {latency}"
    )


def detection_latency(topics: TopicClient, anomalies: list[Record]) -> str:
    """Median seconds from the reading that completed an anomaly's window reaching Kafka to
    the anomaly reaching Kafka (both Kafka timestamps, on this machine's clock)."""
    wanted = {(a.value["machine_id"], a.value["detected_at"]): a for a in anomalies}
    if not wanted:
        return "n/a"
    sent: dict[tuple[str, float], float] = {}

    def found(records: list[Record]) -> bool:
        for r in records[len(sent) :]:
            sent.setdefault((r.value.get("machine_id"), r.value.get("ts")), r.timestamp or 0.0)
        return set(wanted) <= set(sent)

    topics.consume(f"{APP}.readings", until=found, timeout=120)
    gaps = [(a.timestamp or 0.0) - sent[key] for key, a in wanted.items()]
    return f"{statistics.median(gaps) * 1000:.0f} ms (median)"


def send(topics: TopicClient, readings: list[dict[str, Any]], rate: float) -> None:
    """Send readings in time order, paced at ``rate`` per second, as a fleet would."""
    batch = max(1, int(rate / 20))
    start = time.monotonic()
    for i in range(0, len(readings), batch):
        topics.produce(f"{APP}.readings", readings[i : i + batch], key=lambda r: r["machine_id"])
        ahead = start + (i + batch) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)  # pacing the replay, not waiting for a result


def wait_read(topics: TopicClient, topic: str, timeout: float) -> None:
    """Until the job has read every record of ``topic`` and checkpointed past it."""
    group = f"flink-agents.{APP}"
    if poll(lambda: topics.lag(group, topic) == 0 or None, timeout) is None:
        raise TimeoutError(f"the job did not read all of {topic} within {timeout:.0f}s")


def everything(topics: TopicClient, topic: str) -> list[Record]:
    """Every record on ``topic`` now."""
    count = topics.count(topic)
    return topics.consume(topic, count=count, timeout=60) if count else []


@contextmanager
def model_endpoint(latency_ms: float) -> Iterator[dict[str, str]]:
    """Environment for the job's model: a real one if configured, else the simulator."""
    configured = ("OPENAI_API_KEY", "MAINT_MODEL_BASE_URL", "OPENAI_BASE_URL")
    if any(os.environ.get(name) for name in configured):
        console.print("model: the configured OpenAI-compatible endpoint")
        yield {}
        return
    proc, url = spawn(
        "--script", "jobs.maintenance_model:script", "--latency-ms", str(latency_ms), cwd=ROOT
    )
    try:
        console.print(f"model: the simulator at {url} ({latency_ms:g} ms per call)")
        yield {"MAINT_MODEL_BASE_URL": url, "MAINT_MODEL": "sim-1"}
    finally:
        stop_process(proc)


if __name__ == "__main__":
    sys.exit(main())
