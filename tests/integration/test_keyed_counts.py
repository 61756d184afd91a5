"""The foundation job on real Kafka and Flink: keyed state, a side output, savepoints."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from flink_agents.local import ClusterJobs, FlinkCluster
from flink_agents.testing import Record, TopicClient

pytestmark = pytest.mark.integration
JOB = "jobs/keyed_counts.py"


def events(keys: list[str], per_key: int, start: int = 0) -> list[dict[str, object]]:
    """Interleaved events: key k gets sequence numbers start .. start + per_key - 1."""
    return [{"key": k, "seq": start + i} for i in range(per_key) for k in keys]


def by_key(records: list[Record]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for record in records:
        out[record.value["key"]].append(record.value)
    return out


def job_topics(topics: TopicClient) -> tuple[str, str, str]:
    names = tuple(topics.unique(n) for n in ("events", "counts", "dlq"))
    topics.create(*names)
    return names  # type: ignore[return-value]


def test_counts_and_last_events_per_key_with_bad_events_to_the_side_topic(topics, run_job):
    source, counts, dlq = job_topics(topics)
    keys = ["card-1", "card-2", "card-3"]
    topics.produce(source, events(keys, 12)[:20])
    topics.produce(source, ["not json", {"seq": 99}, [1, 2]])
    topics.produce(source, events(keys, 12)[20:])

    run_job(JOB, "--input", source, "--output", counts, "--dead-letters", dlq, "--last", "5")

    results = by_key(topics.consume(counts, count=36, timeout=120))
    for key in keys:
        assert [r["count"] for r in results[key]] == list(range(1, 13))
        assert [e["seq"] for e in results[key][-1]["last"]] == [7, 8, 9, 10, 11]
    dead = topics.consume(dlq, count=3)
    assert [d.value["value"] for d in dead] == ["not json", '{"seq": 99}', "[1, 2]"]
    assert [d.value["reason"].split(":")[0] for d in dead] == [
        "not JSON",
        "missing key field 'key'",
        "not a JSON object but list",
    ]
    assert all(d.value["topic"] == source for d in dead)


@pytest.mark.cluster
def test_state_survives_stop_with_savepoint_and_resume(
    topics, flink_cluster: FlinkCluster, job_env
):
    source, counts, dlq = job_topics(topics)
    jobs = ClusterJobs(flink_cluster)
    args = ["--input", source, "--output", counts, "--dead-letters", dlq, "--group", source]
    keys = ["a", "b", "c"]

    job_id = jobs.submit(Path(JOB), args, env=job_env)
    jobs.wait_running(job_id)
    topics.produce(source, events(keys, 10))
    topics.consume(counts, count=30, timeout=120)
    savepoint = jobs.stop_with_savepoint(job_id)
    assert jobs.wait_gone(job_id) == "FINISHED"

    topics.produce(source, events(keys, 10, start=10))  # arrives while no job runs
    resumed = jobs.submit(Path(JOB), args, savepoint=savepoint, env=job_env)
    jobs.wait_running(resumed)
    try:
        results = by_key(topics.consume(counts, count=60, timeout=120))
    finally:
        jobs.cancel(resumed)
    for key in keys:
        assert [r["count"] for r in results[key]] == list(range(1, 21)), key
        assert [e["seq"] for e in results[key][-1]["last"]] == [15, 16, 17, 18, 19]


@pytest.mark.cluster
def test_cli_submits_lists_and_stops_a_job_with_a_savepoint(
    topics, flink_cluster: FlinkCluster, job_env
):
    import subprocess
    import sys

    source, counts, dlq = job_topics(topics)
    cli = str(Path(sys.executable).with_name("flink-agents"))

    def run(*args: str) -> str:
        done = subprocess.run(
            [cli, *args], env=job_env, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    args = ["--", "--input", source, "--output", counts, "--dead-letters", dlq, "--group", source]
    submitted = run("submit", JOB, *args)
    job_id = submitted.split()[1]
    assert f"{job_id}  RUNNING" in run("jobs")
    topics.produce(source, events(["k"], 3))
    topics.consume(counts, count=3)
    stopped = run("stop", job_id)
    assert "savepoint file:" in stopped
    assert ClusterJobs(flink_cluster).state(job_id) == "FINISHED"
