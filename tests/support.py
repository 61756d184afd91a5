"""Helpers the tests share: waiting for a condition, and server processes that announce
themselves with one ready line on stdout."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ``<name> listening on http://HOST:PORT/mcp``: the ready line of the project's MCP servers.
MCP_READY = re.compile(r"\S+ listening on (http://[\w.]+:(\d+)/mcp)")


def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Return once ``condition()`` holds; fail, naming ``what``, when ``timeout`` passes first.

    For states no event announces (a pool noticing a dead server, a counter on a server);
    it polls every 20 ms.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting until {what}")
        time.sleep(0.02)


def first_line(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    """The first line ``process`` prints on stdout, waiting ``timeout`` seconds at most.

    Reads no further than the newline, so the rest stays in the pipe. Fails with the
    process's log when it exits or stays silent.
    """
    assert process.stdout is not None
    fd, line = process.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"server not ready in {timeout:.0f}s; log:\n{log.read_text()}")
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            byte = os.read(fd, 1)
            if not byte:
                code = process.wait(timeout=5)
                raise AssertionError(
                    f"server exited ({code}) before it was ready; log:\n{log.read_text()}"
                )
            line += byte
    return line[:-1].decode()


def start_mcp_http(
    module: str,
    args: list[str],
    log: Path,
    timeout: float = 30.0,
    ready: re.Pattern[str] = MCP_READY,
) -> tuple[subprocess.Popen[bytes], re.Match[str]]:
    """Run ``python -m module --transport http ...args`` from the project root, stderr to
    ``log``; once its ready line matches ``ready`` (group 1 the URL, group 2 the port),
    return the process and the match."""
    command = [sys.executable, "-m", module, "--transport", "http", *args]
    with log.open("ab") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr)
    try:
        line = first_line(process, log, timeout)
        match = ready.fullmatch(line)
        assert match, f"unexpected ready line {line!r}"
    except BaseException:
        stop(process)
        raise
    return process, match


def stop(process: subprocess.Popen[bytes]) -> bytes:
    """Terminate a server process, killing it if it does not stop in time; return what it
    printed on stdout that was not read yet."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout is None or process.stdout.closed:
        return b""
    with process.stdout:
        return process.stdout.read()
