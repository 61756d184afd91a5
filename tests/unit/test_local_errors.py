"""Errors of the local stack say what is wrong and what to do."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flink_agents.config import Settings
from flink_agents.errors import StackError
from flink_agents.local import FlinkCluster
from flink_agents.local._kafka import KafkaBroker
from flink_agents.local._process import ensure_port_free, free_port, java_executable, wait_until


def test_taken_port_is_named_with_its_setting():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(StackError, match=rf"127.0.0.1:{port} \(kafka.port\) is already in use"):
            ensure_port_free("127.0.0.1", port, "kafka.port")


def test_missing_java_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match=r"Java was not found.*openjdk-17"):
        java_executable()


def test_part_that_dies_during_start_up_shows_its_log(tmp_path: Path):
    log = tmp_path / "kafka.log"
    log.write_text("starting\nERROR Invalid config: log.dirs is empty\n")
    with pytest.raises(StackError, match=r"(?s)Kafka exited during start-up.*log.dirs is empty"):
        wait_until(lambda: False, timeout=5, what="Kafka", alive=lambda: False, log=log)


def test_start_up_timeout_is_reported_with_the_log(tmp_path: Path):
    log = tmp_path / "flink.log"
    log.write_text("waiting for resources\n")
    with pytest.raises(
        StackError, match=r"(?s)Flink was not ready after 0s.*waiting for resources"
    ):
        wait_until(lambda: False, timeout=0.1, what="Flink", log=log, interval=0.01)


@pytest.fixture
def stranger():
    """A live process that the stack did not start, as after a reboot reuses a pid."""
    # It lives until its stdin closes: the end of this fixture.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield proc
    finally:
        proc.communicate(timeout=10)


def test_stale_pid_files_never_claim_or_stop_another_process(tmp_path: Path, stranger):
    settings = Settings(home=tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "kafka.pid").write_text(f"{stranger.pid}\n")
    flink = FlinkCluster(settings)
    flink._pid_file("taskexecutor").write_text(f"{stranger.pid}\n")
    flink._pid_file("standalonesession").write_text(f"{stranger.pid}\n")
    kafka = KafkaBroker(settings)

    assert kafka.pid() is None
    assert not kafka.status().running
    assert flink.pids() == {}
    assert not flink.status().running

    kafka.stop()
    flink.stop()
    assert stranger.poll() is None, "stop() killed a process the stack did not start"


def test_a_log_named_by_a_function_is_read_when_the_wait_fails(tmp_path: Path):
    log = tmp_path / "flink-taskexecutor-0.log"

    def dies_after_writing_its_log() -> bool:
        log.write_text("ERROR could not bind 127.0.0.1:6122\n")
        return False

    with pytest.raises(StackError, match=r"(?s)flink-taskexecutor-0.log.*could not bind"):
        wait_until(
            lambda: False,
            timeout=5,
            what="Flink",
            alive=dies_after_writing_its_log,
            log=lambda: log,
        )


def test_free_port_never_gives_the_same_port_twice():
    # The kernel hands out the same free port to binds in a row often enough that a stack
    # given free_port() for two of its listeners once failed to start (both on one port).
    ports = [free_port() for _ in range(1000)]
    assert len(ports) == len(set(ports))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # and it was free
