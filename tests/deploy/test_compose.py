"""The compose deployment on the project's own images (``make test-deploy`` builds them):
Kafka, a JobManager, two TaskManagers, the MCP tool server and the model simulator, each in
its own container on the host's network at 127.0.0.1. The demo job goes in with
``flink-agents submit --target``; one TaskManager container is killed mid-stream."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flink_agents.errors import StackError
from flink_agents.local import free_port
from flink_agents.local._rest import call
from flink_agents.testing._kafka import Record, TopicClient
from jobs.tools.fraud_data import sample_transactions
from tests.support import ROOT, eventually

# Five JVMs start in the fixture of the first test: on a busy machine that takes minutes.
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(1800)]
STARTUP_S = 600
CLI = str(Path(sys.executable).with_name("flink-agents"))
TAG = os.environ.get("DEPLOY_IMAGE_TAG", "test")
APP = "fraud-triage"
TOPICS = ("transactions", "decisions", f"{APP}.events", f"{APP}.dlq")
PORTS = ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "REST_PORT", "RPC_PORT", "TOOLS_PORT", "MODEL_PORT")


@dataclass
class Deployment:
    project: str
    env: dict[str, str]
    logs: Path

    def compose(self, *args: str, timeout: float = 300) -> str:
        command = ["docker-compose", "-p", self.project, "-f", "docker/compose.yaml"]
        done = subprocess.run(
            [*command, "--profile", "simulator", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"docker-compose {' '.join(args)}: {done.stderr}"
        return done.stdout

    def port(self, name: str) -> int:
        return int(self.env[name])

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port('REST_PORT')}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port('KAFKA_PORT')}"

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def taskmanagers(url: str) -> int:
    try:
        return len(call(url, "/taskmanagers")["taskmanagers"])
    except StackError:  # not up yet
        return 0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    logs = tmp_path_factory.mktemp("compose") / "compose.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLINK_AGENTS_")}
    env.update({name: str(free_port()) for name in PORTS})
    env.update(TAG=TAG, HOST="127.0.0.1", TASK_SLOTS="2", TASK_MANAGER_MEMORY="1536m")
    deployment = Deployment(f"fa-test-{uuid.uuid4().hex[:8]}", env, logs)
    try:
        deployment.compose("up", "-d", timeout=STARTUP_S)  # waits for the JobManager
        eventually(lambda: taskmanagers(deployment.rest_url) == 2, "two TaskManagers", STARTUP_S)
        for name in ("KAFKA_PORT", "TOOLS_PORT", "MODEL_PORT"):
            eventually(lambda n=name: listening(deployment.port(n)), f"{name} answers", STARTUP_S)
        yield deployment
    finally:
        logs.write_text(deployment.compose("logs", "--no-color", timeout=120))
        deployment.compose("down", "-v", "--remove-orphans")


@pytest.fixture(scope="module")
def topics(deployment: Deployment) -> Iterator[TopicClient]:
    client = TopicClient(deployment.bootstrap)
    client.create(*TOPICS, partitions=2)
    yield client
    client.close()


def cli(deployment: Deployment, home: Path, *args: str) -> str:
    port = deployment.port
    env = {
        **deployment.env,
        "FLINK_AGENTS_HOME": str(home),
        "FLINK_AGENTS_RUNTIME__BOOTSTRAP_SERVERS": deployment.bootstrap,
        "FLINK_AGENTS_RUNTIME__PARALLELISM": "2",
        "FLINK_AGENTS_RUNTIME__CHECKPOINT_INTERVAL_S": "2",
        "FRAUD_TOOLS_URL": f"http://127.0.0.1:{port('TOOLS_PORT')}/mcp",
        "FRAUD_MODEL_BASE_URL": f"http://127.0.0.1:{port('MODEL_PORT')}/v1",
        "FRAUD_MODEL": "sim-1",
        "FRAUD_EXACTLY_ONCE": "1",
    }
    if os.environ.get("FLINK_AGENTS_CACHE"):
        env["FLINK_AGENTS_CACHE"] = os.environ["FLINK_AGENTS_CACHE"]
    done = subprocess.run(
        [CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def subtask_taskmanagers(url: str, job: str) -> dict[str, set[str]]:
    """Per operator chain of the job: the TaskManagers its subtasks run on."""
    where = {}
    for vertex in call(url, f"/jobs/{job}")["vertices"]:
        managers = call(url, f"/jobs/{job}/vertices/{vertex['id']}/taskmanagers")["taskmanagers"]
        where[vertex["name"]] = {tm["taskmanager-id"] for tm in managers}
    return where


def completed_checkpoints(url: str, job: str) -> int:
    counts: dict[str, int] = call(url, f"/jobs/{job}/checkpoints")["counts"]
    return counts["completed"]


def test_each_transaction_gets_one_decision_across_a_taskmanager_kill(
    deployment: Deployment, topics: TopicClient, tmp_path: Path
):
    target = f"127.0.0.1:{deployment.port('REST_PORT')}"
    submitted = cli(deployment, tmp_path, "submit", "--target", target, "jobs/fraud_triage.py")
    found = re.fullmatch(r"job ([0-9a-f]{32}) is running\n", submitted)
    assert found, submitted
    job, url = found.group(1), deployment.rest_url

    placement = subtask_taskmanagers(url, job)
    vertices = call(url, f"/jobs/{job}")["vertices"]
    assert {v["parallelism"] for v in vertices} == {2}, vertices
    assert all(len(tms) == 2 for tms in placement.values()), placement

    transactions = sample_transactions(120)
    first, second = transactions[:60], transactions[60:]
    topics.produce("transactions", first, key=lambda t: t["card_id"])
    topics.consume("decisions", count=20, timeout=180)  # committed: checkpoints happened
    victim = deployment.container("taskmanager-1")
    subprocess.run(["docker", "kill", victim], check=True, capture_output=True)
    topics.produce("transactions", second, key=lambda t: t["card_id"])

    wanted = {t["transaction_id"] for t in transactions}

    def all_decided(records: list[Record]) -> bool:
        return wanted <= {r.value.get("transaction_id") for r in records}

    topics.consume("decisions", until=all_decided, timeout=300)
    # Two checkpoints later every transaction a replay could repeat has been committed.
    seen = completed_checkpoints(url, job)
    eventually(lambda: completed_checkpoints(url, job) >= seen + 2, "two more checkpoints", 60)
    decisions = topics.consume("decisions", until=all_decided, timeout=60)
    per_transaction = Counter(r.value["transaction_id"] for r in decisions)
    assert set(per_transaction) == wanted
    assert [t for t, n in per_transaction.items() if n != 1] == []
    assert {r.value["decision"] for r in decisions} <= {"APPROVE", "REVIEW", "BLOCK"}
    assert call(url, f"/jobs/{job}")["state"] == "RUNNING"
    cli(deployment, tmp_path, "stop", "--no-savepoint", "--target", target, job)


def test_jobs_savepoint_and_stop_reach_the_cluster_through_the_target(
    deployment: Deployment, topics: TopicClient, tmp_path: Path
):
    target = f"127.0.0.1:{deployment.port('REST_PORT')}"
    submitted = cli(deployment, tmp_path, "submit", "--target", target, "jobs/fraud_triage.py")
    job = submitted.split()[1]
    listed = cli(deployment, tmp_path, "jobs", "--target", target)
    assert re.search(rf"^{job}  RUNNING ", listed, re.M), listed
    taken = cli(deployment, tmp_path, "savepoint", "--target", target, job)
    expected = rf"job {job} keeps running; savepoint file:/data/savepoints/\S+\n"
    assert re.fullmatch(expected, taken), taken
    stopped = cli(deployment, tmp_path, "stop", "--target", target, job)
    assert re.fullmatch(rf"job {job} stopped; savepoint file:/data/savepoints/\S+\n", stopped)
    state = call(deployment.rest_url, f"/jobs/{job}")["state"]
    assert state == "FINISHED"
