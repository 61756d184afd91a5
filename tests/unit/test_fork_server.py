"""The TaskManager's side of the call processes' fork server, against servers that fail: a
request the server may have acted on is never sent to a second server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from flink_agents.runtime import _fork_server
from flink_agents.runtime._executor_config import ExecutorClosed
from flink_agents.runtime._fork_server import ForkServer

#: A server that notes its start, reads one request, then exits without answering ("exit")
#: or waits for the TaskManager's side to close ("hang").
_FAKE = """
import os, sys
from multiprocessing.connection import Connection
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write("started\\n")
conn = Connection(os.dup(int(sys.argv[1])))
conn.recv()
if os.environ["FAKE_MODE"] == "hang":
    try:
        conn.recv()
    except EOFError:
        pass
"""


@pytest.fixture
def starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "starts"
    log.touch()
    monkeypatch.setattr(_fork_server, "_BOOT", _FAKE)
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


@pytest.fixture
def server() -> Iterator[ForkServer]:
    server = ForkServer()
    yield server
    server.close()


def _fork(server: ForkServer, timeout: float) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        server.fork(theirs, (1, 1), timeout=timeout)


def test_a_server_that_dies_after_the_request_is_not_asked_again(
    server: ForkServer, starts: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_MODE", "exit")
    with pytest.raises(ExecutorClosed, match="fork server failed"):
        _fork(server, timeout=60)
    assert starts.read_text().splitlines() == ["started"]
    assert server.pid is None

    with pytest.raises(ExecutorClosed):  # the next request starts a new one
        _fork(server, timeout=60)
    assert starts.read_text().splitlines() == ["started", "started"]


def test_a_server_that_does_not_answer_in_time_fails_the_request_once(
    server: ForkServer, starts: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_MODE", "hang")
    with pytest.raises(ExecutorClosed, match=r"did not answer in 0\.5s"):
        _fork(server, timeout=0.5)
    assert starts.read_text().splitlines() == ["started"]
    assert server.pid is None  # stopped: it may still fork for the request it read
