"""`flink-agents submit | jobs | savepoint | stop --target HOST:PORT`: a cluster known only by
its REST endpoint, whose workers run the cluster's own Python and Python path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from flink_agents._pythonenv import worker_pythonpath
from flink_agents.local import FlinkCluster
from flink_agents.testing import ModelServer, Reply
from flink_agents.testing._kafka import TopicClient
from tests.support import stack_env

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
CLI = str(Path(sys.executable).with_name("flink-agents"))


def test_a_job_runs_is_savepointed_and_stopped_through_the_rest_endpoint_only(
    topics: TopicClient, flink_cluster: FlinkCluster, tmp_path: Path
):
    settings = flink_cluster.settings
    target = f"127.0.0.1:{settings.flink.rest_port}"
    # A home of its own: the client knows nothing of the cluster but its address.
    env = stack_env(
        tmp_path / "client",
        kafka__port=settings.kafka.port,
        cluster__python=sys.executable,
        # A virtualenv's Python: embedded in the TaskManager it needs its folders named.
        cluster__pythonpath=os.pathsep.join(worker_pythonpath()),
        runtime__checkpoint_interval_s=2,
    )

    def cli(*args: str) -> str:
        done = subprocess.run(
            [CLI, *args], env=env, capture_output=True, text=True, timeout=240, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    source, counts, dlq = (topics.unique(n) for n in ("target-in", "target-out", "target-dlq"))
    topics.create(source, counts, dlq)
    args = ["--input", source, "--output", counts, "--dead-letters", dlq, "--group", source]
    submitted = cli("submit", "--target", target, "jobs/keyed_counts.py", "--", *args)
    job_id = re.fullmatch(r"job ([0-9a-f]{32}) is running\n", submitted)
    assert job_id, submitted
    job = job_id.group(1)
    try:
        topics.produce(source, [{"key": k, "seq": i} for i in range(5) for k in "ab"])
        out = topics.consume(counts, count=10, timeout=120)
        assert Counter(r.value["key"] for r in out) == {"a": 5, "b": 5}

        assert re.search(rf"^{job}  RUNNING ", cli("jobs", "--target", target), re.M)
        taken = cli("savepoint", "--target", target, job)
        assert re.fullmatch(rf"job {job} keeps running; savepoint file:/\S+\n", taken), taken
        assert (settings.home / "savepoints").resolve() in _paths(taken)
        stopped = cli("stop", "--target", target, job)
    except BaseException:
        flink_cluster.rest(f"/jobs/{job}", "PATCH")
        raise
    assert re.fullmatch(rf"job {job} stopped; savepoint file:/\S+\n", stopped), stopped
    assert re.search(rf"^{job}  FINISHED ", cli("jobs", "--target", target), re.M)


def _paths(line: str) -> list[Path]:
    """Every folder above the savepoint URI on the line."""
    uri = line.split()[-1]
    return list(Path(uri.removeprefix("file:")).parents)


def test_a_target_that_is_not_host_and_port_is_refused_with_the_form_to_use(tmp_path: Path):
    done = subprocess.run(
        [CLI, "jobs", "--target", "flink.example.com"],
        env=stack_env(tmp_path / "client"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "cluster.target" in done.stderr and "HOST:PORT" in done.stderr, done.stderr


SQL_JOB = """
CREATE TABLE questions (id STRING, question STRING) WITH ('topic' = '{prefix}.questions');
CREATE TABLE answers (id STRING, status STRING, answer STRING) WITH ('topic' = '{prefix}.answers');
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = '{model_url}');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm',
                        'openai.model_version' = 'helper');
CREATE AGENT helper USING MODEL chat USING PROMPT 'Answer.'
  WITH ('call_timeout' = '5s', 'max_consecutive_failures' = '1');
INSERT INTO answers
SELECT q.id, r.status, r.response
FROM questions AS q, LATERAL TABLE(AI_RUN_AGENT('helper', q.question, q.id)) AS r(status, response);
"""


def test_sql_run_with_a_target_submits_the_sql_job_to_that_cluster(
    topics: TopicClient, flink_cluster: FlinkCluster, tmp_path: Path
):
    settings = flink_cluster.settings
    target = f"127.0.0.1:{settings.flink.rest_port}"
    env = stack_env(
        tmp_path / "client",
        kafka__port=settings.kafka.port,
        cluster__python=sys.executable,
        cluster__pythonpath=os.pathsep.join(worker_pythonpath()),
        runtime__checkpoint_interval_s=2,
    )
    prefix = topics.unique("sql-target")
    topics.create(f"{prefix}.questions", f"{prefix}.answers")
    with ModelServer(lambda req: Reply.text(f"answer to {req.last_user_text}")) as sim:
        file = tmp_path / "ask.sql"
        file.write_text(SQL_JOB.format(prefix=prefix, model_url=sim.base_url))
        done = subprocess.run(
            [CLI, "sql", "run", str(file), "--target", target, "--name", prefix],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        running = re.search(
            rf"^job ([0-9a-f]{{32}}) \({prefix}\) is running on {target}$", done.stdout, re.M
        )
        assert running, done.stdout
        assert f"helper: model helper@{sim.base_url}" in done.stdout  # the plan was shown
        # What each statement did, printed as `sql run` without a target prints it.
        for message in ("connection llm created", "model chat created", "agent helper created"):
            assert message in done.stdout, done.stdout
        job = running.group(1)
        try:
            topics.produce(
                f"{prefix}.questions", [{"id": f"q{n}", "question": f"n{n}"} for n in (1, 2)]
            )
            got = topics.consume(
                f"{prefix}.answers",
                until=lambda rs: {r.value["id"] for r in rs} >= {"q1", "q2"},
                timeout=300,
            )
        finally:
            flink_cluster.rest(f"/jobs/{job}", "PATCH")
    assert Counter(r.value["id"] for r in got) == {"q1": 1, "q2": 1}
    assert {r.value["id"]: r.value["answer"] for r in got} == {
        "q1": "answer to n1",
        "q2": "answer to n2",
    }
    assert flink_cluster.rest(f"/jobs/{job}")["name"] == prefix
