"""A TaskManager dies under load: every input is still answered, answers already in the log
are replayed rather than requested from the model again, and with exactly-once outputs a
``read_committed`` consumer sees each answer once."""

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
from flink_agents.testing import ModelServer, Record, RecordedRequest, TopicClient
from tests.support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
ROOT = Path(__file__).resolve().parents[2]
RATE = 40  # inputs per second
TOTAL = 10 * RATE


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


def kill_taskmanager_under_load(
    flink_cluster: FlinkCluster,
    topics: TopicClient,
    job_env: dict[str, str],
    *extra_args: str,
) -> tuple[list[Record], list[RecordedRequest], float, str]:
    """Run the classifier job, kill its TaskManager mid-stream (a spare takes over) and read
    the outputs (``read_committed``) until every input has one: (outputs, finished model
    requests, the kill's time, the job's id); the job is cancelled."""
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
            *extra_args,
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
            answers = topics.consume(
                out, until=lambda rs: len({r.value["id"] for r in rs}) >= TOTAL, timeout=240
            )
            if extra_args:
                # Anything still open commits with the next checkpoints: two more complete,
                # then the topic is read again, so a late second answer would be counted.
                done = completed_checkpoints(jobs, job_id)
                eventually(
                    lambda: completed_checkpoints(jobs, job_id) >= done + 2,
                    "two more checkpoints completed",
                    timeout=30,
                )
                answers = topics.consume(out, count=len(answers), timeout=30)
        finally:
            jobs.cancel(job_id)
        requests = [
            r
            for r in sim.requests
            if r.finished is not None and r.path.endswith("/chat/completions")
        ]
    return answers, requests, killed, job_id


def completed_checkpoints(jobs: ClusterJobs, job_id: str) -> int:
    counts = jobs.cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]
    return int(counts["completed"])


def assert_calls_repeated_only_when_in_flight(
    requests: list[RecordedRequest], killed: float
) -> None:
    """A model call made twice is one that was in flight when the TaskManager died: its
    answer never reached the log. Answers that did were replayed, not requested again."""
    asked = Counter(input_id(r.body) for r in requests)
    repeated = [i for i, n in asked.items() if n > 1]
    in_flight_at_kill = [
        r for r in requests if r.time <= killed and (r.finished or 0) >= killed - 0.2
    ]
    assert len(repeated) <= len(in_flight_at_kill) + 3, (repeated, len(in_flight_at_kill))
    assert len(requests) < TOTAL + len(in_flight_at_kill) + 3


def test_killed_taskmanager_loses_nothing_and_repeats_only_unanswered_calls(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    answers, requests, killed, _ = kill_taskmanager_under_load(flink_cluster, topics, job_env)

    # Outputs per input id (a set would hide duplicates). Without exactly_once the sink is
    # at least once: outputs written after the last checkpoint are written again after the
    # restore, as copies of the same answer.
    per_input = Counter(r.value["id"] for r in answers)
    repeated_outputs = {i: n for i, n in per_input.items() if n > 1}
    print(
        f"recovery: {TOTAL} inputs, {len(answers)} outputs, "
        f"{len(repeated_outputs)} inputs answered more than once: {sorted(repeated_outputs)}"
    )
    assert set(per_input) == set(range(TOTAL))
    assert max(per_input.values()) <= 2, repeated_outputs
    by_input: dict[object, set[str]] = {}
    for r in answers:
        by_input.setdefault(r.value["id"], set()).add(json.dumps(r.value["label"]))
    assert all(len(labels) == 1 for labels in by_input.values()), "a repeat changed its answer"
    assert all(r.value["task"]["state"] == "TASK_STATE_COMPLETED" for r in answers)
    assert_calls_repeated_only_when_in_flight(requests, killed)


def test_exactly_once_outputs_answer_each_input_once_after_a_taskmanager_kill(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    answers, requests, killed, _ = kill_taskmanager_under_load(
        flink_cluster, topics, job_env, "--exactly-once"
    )

    per_input = Counter(r.value["id"] for r in answers)
    assert set(per_input) == set(range(TOTAL))
    assert [i for i, n in per_input.items() if n != 1] == []
    assert all(r.value["task"]["state"] == "TASK_STATE_COMPLETED" for r in answers)
    assert_calls_repeated_only_when_in_flight(requests, killed)
