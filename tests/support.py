"""Helpers the tests share: waiting for a condition, and MCP servers that announce
themselves with one ready line on stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flink_agents.testing import first_line, stop_process

ROOT = Path(__file__).resolve().parent.parent

# ``<name> listening on http://HOST:PORT/mcp``: the ready line of the project's MCP servers.
MCP_READY = re.compile(r"\S+ listening on (http://[\w.]+:(\d+)/mcp)")


def stack_env(home: Path, **settings: object) -> dict[str, str]:
    """This process's environment without its ``FLINK_AGENTS_*`` settings, for a stack in
    ``home`` with the project's jar cache; ``kafka__port=9`` becomes
    ``FLINK_AGENTS_KAFKA__PORT=9``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLINK_AGENTS_")}
    env["FLINK_AGENTS_HOME"] = str(home)
    env["FLINK_AGENTS_CACHE"] = str(ROOT / ".flink-agents" / "cache")
    env.update({f"FLINK_AGENTS_{name.upper()}": str(value) for name, value in settings.items()})
    return env


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
        line = first_line(process, timeout, log)
        match = ready.fullmatch(line)
        assert match, f"unexpected ready line {line!r}"
    except BaseException:
        stop_process(process)
        raise
    return process, match


def java_partition(key: str, partitions: int) -> int:
    """The partition Kafka's Java producer picks for ``key`` (murmur2 of its UTF-8 bytes),
    checked against librdkafka's ``murmur2_random`` partitioner.

    >>> [java_partition(k, 4) for k in ("", "a", "ab", "abc", "abcd", "abcde")]
    [1, 0, 2, 3, 0, 1]
    """
    data, m = key.encode(), 0x5BD1E995
    h = 0x9747B28C ^ len(data)
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * m) & 0xFFFFFFFF) ^ ((k * m) & 0xFFFFFFFF)
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions
