"""`flink-agents local up | status | down` from a shell, on its own ports and folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flink_agents.local import free_port
from flink_agents.local._process import pid_alive
from tests.support import stack_env

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("flink-agents"))


def test_up_status_down_leave_nothing_running(tmp_path: Path):
    env = stack_env(
        tmp_path / "home",
        kafka__port=free_port(),
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
        pids += [int(p.read_text().split()[0]) for p in (tmp_path / "home" / "run").glob("*.pid")]
        assert len(pids) == 3  # Kafka, JobManager, TaskManager
    finally:
        down = cli("local", "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids if pid_alive(pid)]
    after = cli("local", "status")
    assert after.returncode == 3
    assert after.stdout.count("down") == 2


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
