"""`flink-agents local up | status | down` from a shell, on its own ports and folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from flink_agents.local import free_port
from flink_agents.local._process import pid_alive
from flink_agents.testing import TopicClient
from tests.support import eventually, stack_env

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("flink-agents"))


def test_up_status_down_leave_nothing_running(tmp_path: Path):
    kafka_port = free_port()
    env = stack_env(
        tmp_path / "home",
        kafka__port=kafka_port,
        kafka__controller_port=free_port(),
        flink__rest_port=free_port(),
        flink__rpc_port=free_port(),
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False
        )

    pids: list[int] = []
    try:
        up = cli("local", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        status = cli("local", "status")
        assert status.returncode == 0, status.stdout
        assert "ready at 127.0.0.1:" in status.stdout
        assert "1 TaskManager(s)" in status.stdout
        assert "warm PyFlink client on 127.0.0.1:" in status.stdout
        # `up` returned a warm stack: the warm-up's agent job ran on the TaskManager and was
        # cancelled, its slot is free again and its topics are gone.
        assert "(ready)" in status.stdout
        assert "1 TaskManager(s), 8/8 slots free, 0 job(s) running" in status.stdout
        warmup = (tmp_path / "home" / "logs" / "warm-client-warmup.log").read_text()
        assert re.search(r"warm-up job [0-9a-f]{32} ran [0-9.]+s after submission", warmup), warmup
        listed = cli("jobs")
        assert re.search(r"CANCELED\s+\S+\s+flink-agents-warm-up", listed.stdout), listed.stdout
        topics = TopicClient(f"127.0.0.1:{kafka_port}")
        try:
            assert not [t for t in topics.topics() if t.startswith("flink-agents-warm-up")]
        finally:
            topics.close()
        files = list((tmp_path / "home" / "run").glob("*.pid"))
        pids += [int(p.read_text().split()[0]) for p in files]
        # Kafka, JobManager, TaskManager, the warm client and the warm Python (and the
        # warm-up while that runs)
        assert {p.name for p in files} - {"warm-client-warmup.pid"} == {
            "kafka.pid",
            "flink-flink-agents-standalonesession.pid",
            "flink-flink-agents-taskexecutor.pid",
            "warm-client.pid",
            "warm-python.pid",
        }
        # The fork server the warm-up's agent operator started beside the TaskManager.
        taskmanager = tmp_path / "home" / "run" / "flink-flink-agents-taskexecutor.pid"
        helpers = psutil.Process(int(taskmanager.read_text().split()[0])).children()
        assert [p for p in helpers if "_fork_server" in " ".join(p.cmdline())], helpers
        pids += [p.pid for p in helpers]
    finally:
        down = cli("local", "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids if pid_alive(pid)]
    after = cli("local", "status")
    assert after.returncode == 3
    assert after.stdout.count("down") == 3


def test_up_fails_clearly_when_the_kafka_port_is_taken(tmp_path: Path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        env = stack_env(tmp_path / "home", kafka__port=sock.getsockname()[1])
        done = subprocess.run(
            [CLI, "local", "up"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert done.returncode == 1
    assert "(kafka.port) is already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_status_reports_dead_taskmanagers_and_up_starts_only_what_is_missing(tmp_path: Path):
    home = tmp_path / "home"
    env = stack_env(
        home,
        kafka__port=free_port(),
        kafka__controller_port=free_port(),
        flink__rest_port=free_port(),
        flink__rpc_port=free_port(),
        flink__task_slots=1,
        flink__taskmanager_memory="1g",
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False
        )

    def pids(daemon: str) -> list[int]:
        path = home / "run" / f"flink-flink-agents-{daemon}.pid"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    try:
        up = cli("local", "up", "--taskmanagers", "2")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "2 TaskManager(s), 2/2 slots free" in cli("local", "status").stdout
        first, second = pids("taskexecutor")
        kafka = (home / "run" / "kafka.pid").read_text().split()[0]
        jobmanager = pids("standalonesession")

        os.kill(first, signal.SIGKILL)
        eventually(lambda: not pid_alive(first), "the TaskManager is gone")
        one_left = cli("local", "status")
        assert one_left.returncode == 0, one_left.stdout
        assert "1 TaskManager(s) (1 of 2 died;" in one_left.stdout
        assert pids("taskexecutor") == [second]  # the dead pid left the pid file

        os.kill(second, signal.SIGKILL)
        eventually(lambda: not pid_alive(second), "the last TaskManager is gone")
        none_left = cli("local", "status")
        assert none_left.returncode == 3, none_left.stdout
        assert "no TaskManager is running" in none_left.stdout

        healed = cli("local", "up")
        assert healed.returncode == 0, healed.stdout + healed.stderr
        status = cli("local", "status")
        assert status.returncode == 0, status.stdout
        assert "2 TaskManager(s)," in status.stdout
        eventually(  # the JobManager forgets the dead TaskManagers' slots within seconds
            lambda: "2 TaskManager(s), 2/2 slots free" in cli("local", "status").stdout,
            "the REST API lists only the new TaskManagers' slots",
            timeout=30,
        )
        assert pids("standalonesession") == jobmanager  # running parts were left alone
        assert (home / "run" / "kafka.pid").read_text().split()[0] == kafka
        assert len(pids("taskexecutor")) == 2
        assert all(pid_alive(p) for p in pids("taskexecutor"))
    finally:
        down = cli("local", "down")
    assert down.returncode == 0, down.stdout + down.stderr
