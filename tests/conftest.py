"""Shared fixtures: a real Kafka broker, a real Flink cluster, topics and job processes.

Everything is started by the fixtures on free ports under a temporary folder, so tests run
beside a user's own `flink-agents local up`, and everything is stopped at the end even when
a test fails. Jars come from the project's cache (downloaded once by `make setup`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flink_agents.config import Settings, load_settings
from flink_agents.local import FlinkCluster, KafkaBroker, free_port
from flink_agents.testing import JobProcess, TopicClient
from tests.support import stack_env

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("stack")
    return load_settings(
        {
            "home": str(home),
            "cache": str(ROOT / ".flink-agents" / "cache"),
            "kafka": {"port": free_port(), "controller_port": free_port()},
            "flink": {"rest_port": free_port(), "rpc_port": free_port(), "task_slots": 8},
        },
        environ={},
        file=None,
    )


@pytest.fixture(scope="session")
def kafka(stack_settings: Settings) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(stack_settings)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def topics(kafka: KafkaBroker) -> Iterator[TopicClient]:
    client = TopicClient(kafka.settings.kafka.bootstrap_servers)
    yield client
    client.close()


@pytest.fixture(scope="session")
def flink_cluster(stack_settings: Settings, kafka: KafkaBroker) -> Iterator[FlinkCluster]:
    cluster = FlinkCluster(stack_settings)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def job_env(stack_settings: Settings) -> dict[str, str]:
    """Environment for job processes: they find the test broker through the settings."""
    return stack_env(
        stack_settings.home,
        kafka__port=stack_settings.kafka.port,
        flink__rest_port=stack_settings.flink.rest_port,
        flink__rpc_port=stack_settings.flink.rpc_port,
        runtime__checkpoint_interval_s=2,
    )


@pytest.fixture
def run_job(job_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., JobProcess]]:
    """Start `python <script> args` as a MiniCluster job; stopped when the test ends."""
    started: list[JobProcess] = []

    def start(script: str | Path, *args: str) -> JobProcess:
        job = JobProcess(ROOT / script, list(args), job_env, tmp_path / f"job-{len(started)}.log")
        started.append(job.start())
        return job

    yield start
    for job in started:
        job.stop()
