"""`flink-agents submit` on the standalone cluster: a job that cannot start says why, and stops."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from flink_agents.local import ClusterJobs, FlinkCluster
from flink_agents.testing import TopicClient
from tests.support import stack_env

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
CLI = str(Path(sys.executable).with_name("flink-agents"))
UNSET = "FLINK_AGENTS_SUBMIT_TEST_KEY_NOBODY_SETS"

NO_KEY_JOB = f'''
import sys

from flink_agents import Agent, AgentApp, OpenAIModel

agent = Agent(
    name="nokey",
    instructions="Answer.",
    model=OpenAIModel(model="gpt-4o-mini", api_key_env="{UNSET}"),
)
app = AgentApp(sys.argv[1])
app.source(sys.argv[2], key="k")
app.add(agent, outputs=sys.argv[3])
app.run()
'''


TINY_JOB = """
from pyflink.datastream import StreamExecutionEnvironment

env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).print()
env.execute("tiny")
"""


def submit(job: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "submit", str(job), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_job_failing_at_start_reports_its_cause_and_does_not_keep_restarting(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str], tmp_path: Path
):
    job = tmp_path / "nokey_job.py"
    job.write_text(NO_KEY_JOB)
    app = topics.unique("nokey")
    jobs = ClusterJobs(flink_cluster)
    before = {j["jid"] for j in jobs.overview()}

    done = submit(job, job_env, app, topics.unique("in"), topics.unique("out"))

    assert done.returncode == 1, done.stdout + done.stderr
    message = done.stderr.replace("\n", " ")
    assert f"the environment variable {UNSET} is not set where the job runs" in message
    assert "more" not in message.split()  # not the tail of a Java stack ("... 23 more")
    assert "failed twice as it started" in message and "cancelled" in message
    [new] = [j for j in jobs.overview() if j["jid"] not in before]
    assert jobs.wait_gone(new["jid"], timeout=10) == "CANCELED"  # not RESTARTING


def test_a_mistake_in_the_job_file_shows_as_under_python(
    flink_cluster: FlinkCluster, job_env: dict[str, str], tmp_path: Path
):
    job = tmp_path / "broken_job.py"
    job.write_text("import json\n\nraise RuntimeError('the job file is wrong on purpose')\n")

    done = submit(job, job_env)

    assert done.returncode == 1
    assert "RuntimeError: the job file is wrong on purpose" in done.stderr
    assert f'File "{job}", line 3' in done.stderr
    assert "Traceback" not in done.stderr.split("RuntimeError")[-1]


def test_a_submission_that_hangs_is_stopped_at_its_timeout_naming_what_it_waited_for(
    tmp_path: Path,
):
    job = tmp_path / "tiny_job.py"
    job.write_text(TINY_JOB)
    env = stack_env(tmp_path / "home", cluster__submit_timeout_s=15)
    with socket.socket() as silent:  # a JobManager that takes connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        done = submit(job, env, "--target", target)
        took = time.monotonic() - started

    assert done.returncode == 1, done.stdout + done.stderr
    message = done.stderr.replace("\n", " ")
    assert f"submitting {job} did not finish within 15s" in message
    assert f"handing it to the JobManager at http://{target}" in message
    assert "no job was accepted" in message and "cluster.submit_timeout_s" in message
    assert took < 90
    # Everything flink run started (its JVM, the job file's Python) was stopped with it.
    running = [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]
    assert [c for c in running if job.name in c] == []
