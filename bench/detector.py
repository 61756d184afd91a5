"""Readings per second through the anomaly detector alone (no agent), on a MiniCluster.

Starts a Kafka broker (free ports, a temporary home), loads ``--machines`` x ``--readings``
simulated readings into a topic, runs a job that is only the detector (readings -> key ->
DetectStep -> anomalies), and follows the offsets the job commits at each checkpoint:
the rate is the readings committed between the first and the last commit that moved,
over the time between them (start-up excluded). Compare with ``floor_events_per_s`` in
``bench/results/summary.json`` (the same Kafka -> Flink -> Kafka path, pass-through).

    python -m bench.detector [--machines 100] [--readings 600]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from flink_agents import AgentApp, AnomalyDetector
from flink_agents.config import load_settings
from flink_agents.local import KafkaBroker, free_port
from flink_agents.testing._jobs import JobProcess
from flink_agents.testing._kafka import TopicClient
from jobs.tools.sensors import METRICS, fleet

ROOT = Path(__file__).resolve().parent.parent
APP = "bench-detector"


def job() -> None:
    """The job: the maintenance demo's detector and nothing else."""
    app = AgentApp(APP)
    detector = AnomalyDetector(key="machine_id", metrics=list(METRICS), window=10, warmup=20)
    app.detect(detector, readings=f"{APP}.readings", anomalies=f"{APP}.anomalies")
    app.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--readings", type=int, default=600, help="per machine")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="bench-detector-"))
    port = free_port()
    overrides = {"home": str(home), "kafka": {"port": port, "controller_port": free_port()}}
    broker = KafkaBroker(load_settings(overrides, file=None))
    broker.start()
    try:
        topics = TopicClient(f"127.0.0.1:{port}")
        readings, _ = fleet(args.machines, args.readings)
        topics.create(f"{APP}.readings", f"{APP}.anomalies", f"{APP}.dlq", f"{APP}.events")
        total = topics.produce(f"{APP}.readings", readings, key=lambda r: r["machine_id"])
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONSAFEPATH": "1",  # not bench/ first: bench.jobs would shadow the project's jobs
            "FLINK_AGENTS_HOME": str(home),
            "FLINK_AGENTS_KAFKA__PORT": str(port),
            "FLINK_AGENTS_RUNTIME__CHECKPOINT_INTERVAL_S": "1",
        }
        process = JobProcess(Path(__file__), ["--job"], env, home / "job.log")
        return _measure(topics, process, total, args.timeout)
    finally:
        broker.stop()


def _measure(topics: TopicClient, process: JobProcess, total: int, timeout: float) -> int:
    process.start()
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            lag = topics.lag(f"flink-agents.{APP}", f"{APP}.readings")
            if lag is not None and (not samples or total - lag != samples[-1][1]):
                samples.append((time.monotonic(), total - lag))
            if lag == 0:
                break
            if not process.alive:
                print(process.tail(), file=sys.stderr)
                return 1
            time.sleep(0.2)
    finally:
        process.stop()
    moved = [(t, n) for t, n in samples if n > 0]
    if len(moved) < 2 or moved[-1][1] != total:
        print(f"the job did not read all {total} readings in time: {samples[-3:]}")
        return 1
    (t0, n0), (t1, n1) = moved[0], moved[-1]
    print(
        f"detector: {(n1 - n0) / (t1 - t0):.0f} readings/s over {n1 - n0} readings "
        f"({total} in all, {len(moved)} checkpoints)"
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--job"]:
        job()
    else:
        sys.exit(main())
