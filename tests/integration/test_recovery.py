"""A TaskManager dies under load: every input is still answered, and answers already in
the log are replayed rather than requested from the model again."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.workloads import event, script
from flink_agents.local import ClusterJobs, FlinkCluster
from flink_agents.testing import ModelServer, TopicClient

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
ROOT = Path(__file__).resolve().parents[2]
RATE = 40  # inputs per second


def send(topics: TopicClient, topic: str, first: int, count: int) -> None:
    started = time.monotonic()
    for i in range(count):
        pause = started + i / RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # pacing a producer, not waiting for a condition
        topics.produce(topic, [event(first + i, keys=200)])


def input_id(request_body: dict[str, object]) -> object:
    messages = request_body["messages"]
    assert isinstance(messages, list)
    return json.loads(messages[-1]["content"])["id"]


def test_killed_taskmanager_loses_nothing_and_repeats_only_unanswered_calls(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    source, out = topics.unique("recover-in"), topics.unique("recover-out")
    topics.create(source, out)
    jobs = ClusterJobs(flink_cluster)
    with ModelServer(script, latency_ms=50) as sim:
        args = [
            "--workload",
            "classifier",
            "--capacity",
            "64",
            "--app",
            topics.unique("rec"),
            "--input",
            source,
            "--output",
            out,
            "--model-url",
            sim.base_url,
        ]
        job_id = jobs.submit(ROOT / "bench/jobs/agent_job.py", args, env=job_env)
        jobs.wait_running(job_id)
        victim = flink_cluster.taskmanager_pids()[0]
        flink_cluster.add_taskmanager()
        try:
            send(topics, source, 0, 6 * RATE)  # several checkpoints (every 2 s in tests)
            killed = time.time()
            os.kill(victim, signal.SIGKILL)
            send(topics, source, 6 * RATE, 4 * RATE)
            total = 10 * RATE
            answers = topics.consume(
                out, until=lambda rs: len({r.value["id"] for r in rs}) >= total, timeout=240
            )
        finally:
            jobs.cancel(job_id)
        requests = [r for r in sim.requests if r.finished is not None]

    # Outputs per input id (a set would hide duplicates). Without exactly_once the sink is
    # at least once: outputs written after the last checkpoint are written again after the
    # restore, as copies of the same answer.
    per_input = Counter(r.value["id"] for r in answers)
    repeated_outputs = {i: n for i, n in per_input.items() if n > 1}
    print(
        f"recovery: {total} inputs, {len(answers)} outputs, "
        f"{len(repeated_outputs)} inputs answered more than once: {sorted(repeated_outputs)}"
    )
    assert set(per_input) == set(range(total))
    assert max(per_input.values()) <= 2, repeated_outputs
    by_input: dict[object, set[str]] = {}
    for r in answers:
        by_input.setdefault(r.value["id"], set()).add(json.dumps(r.value["label"]))
    assert all(len(labels) == 1 for labels in by_input.values()), "a repeat changed its answer"
    assert all(r.value["task"]["state"] == "TASK_STATE_COMPLETED" for r in answers)
    # A model call made twice is one that was in flight when the TaskManager died: its
    # answer never reached the log. Answers that did were replayed, not requested again.
    asked = Counter(input_id(r.body) for r in requests)
    repeated = [i for i, n in asked.items() if n > 1]
    in_flight_at_kill = [
        r for r in requests if r.time <= killed and (r.finished or 0) >= killed - 0.2
    ]
    assert len(repeated) <= len(in_flight_at_kill) + 3, (repeated, len(in_flight_at_kill))
    assert len(requests) < total + len(in_flight_at_kill) + 3
