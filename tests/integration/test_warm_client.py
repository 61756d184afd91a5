"""`flink-agents submit` with the local stack's warm client: jobs are built in it, one at a
time, and with `flink.warm_client: false` `flink run` builds them as before."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from flink_agents.local import ClusterJobs, FlinkCluster
from flink_agents.local._warm import WarmClient
from flink_agents.testing import TopicClient
from tests.support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
CLI = str(Path(sys.executable).with_name("flink-agents"))
JOB = "jobs/keyed_counts.py"
RUNNING = re.compile(r"job ([0-9a-f]{32}) is running")


def start_submit(
    topics: TopicClient, env: dict[str, str]
) -> tuple[subprocess.Popen[str], str, str]:
    """Start `flink-agents submit` of the keyed-counts job on fresh topics; the process, its
    input topic and its output topic."""
    source, counts, dlq = (topics.unique(n) for n in ("warm.in", "warm.out", "warm.dlq"))
    topics.create(source, counts, dlq)
    args = ["--input", source, "--output", counts, "--dead-letters", dlq, "--group", source]
    process = subprocess.Popen(
        [CLI, "submit", JOB, "--", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, source, counts


def job_id(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=300)
    found = RUNNING.search(out)
    assert process.returncode == 0 and found, out + err
    return found.group(1)


def answers_each_once(topics: TopicClient, source: str, counts: str) -> None:
    """Two events of one key in, exactly one count for each out (1, then 2)."""
    topics.produce(source, [{"key": "k", "seq": 0}, {"key": "k", "seq": 1}])
    got = topics.consume(counts, count=2)
    assert Counter(r.value["count"] for r in got) == {1: 1, 2: 1}


def test_two_jobs_submitted_at_once_are_both_built_in_the_warm_client_and_run(
    topics: TopicClient, flink_cluster: FlinkCluster, job_env: dict[str, str]
):
    client = flink_cluster.warm_client()
    assert client.status().running, client.status().detail
    jobs = ClusterJobs(flink_cluster)
    before = flink_run_log(flink_cluster)
    eventually(client.python.ready, "the warm Python listens")
    runs_before = warm_runs(client)
    first, second = start_submit(topics, job_env), start_submit(topics, job_env)
    ids = [job_id(first[0]), job_id(second[0])]
    try:
        assert len(set(ids)) == 2
        # Built in the warm client (which logs each job it submits), not by flink run.
        assert set(ids) <= set(client.submitted_jobs())
        assert flink_run_log(flink_cluster) == before
        # Each job file ran in the warm Python, which had PyFlink imported already.
        assert warm_runs(client) == runs_before + 2
        # The warm-up built its representative agent job before the submissions ran.
        eventually(
            lambda: "warm-up build 1 took" in client.warmup_log.read_text(),
            "the warm-up logs its first build",
        )
        for _, source, counts in (first, second):
            answers_each_once(topics, source, counts)
        assert [jobs.state(i) for i in ids] == ["RUNNING", "RUNNING"]
    finally:
        for i in ids:
            jobs.cancel(i)


def test_with_the_warm_client_turned_off_submit_uses_flink_run(
    topics: TopicClient, flink_cluster: FlinkCluster, job_env: dict[str, str]
):
    client = flink_cluster.warm_client()
    env = {**job_env, "FLINK_AGENTS_FLINK__WARM_CLIENT": "false"}
    before = flink_run_log(flink_cluster)
    process, source, counts = start_submit(topics, env)
    submitted = job_id(process)
    jobs = ClusterJobs(flink_cluster)
    try:
        assert submitted not in client.submitted_jobs()
        answers_each_once(topics, source, counts)
    finally:
        jobs.cancel(submitted)
    assert flink_run_log(flink_cluster) != before  # flink run ran, and wrote its log


def warm_runs(client: WarmClient) -> int:
    """How many times the warm Python ran the keyed-counts job file."""
    return client.python.log.read_text().count(f"ran {JOB} ")


def flink_run_log(cluster: FlinkCluster) -> dict[str, int]:
    """When each `flink run` client log in the stack's log folder was last written."""
    return {p.name: p.stat().st_mtime_ns for p in cluster.log_dir.glob("flink-*-client-*.log")}
