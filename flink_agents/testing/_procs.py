"""Server subprocesses that announce readiness with one line on stdout."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any


def first_line(process: subprocess.Popen[Any], timeout: float, log: Path | None = None) -> str:
    """The first line ``process`` prints on stdout, waiting ``timeout`` seconds at most.

    Reads no further than the newline, so the rest stays in the pipe. Raises ``RuntimeError``
    (with the end of ``log``, the process's stderr, when given) when the process exits first
    or stays silent.
    """
    assert process.stdout is not None
    fd, line = process.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"not ready after {timeout:.0f}s{_log_tail(log)}")
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            byte = os.read(fd, 1)
            if not byte:
                code = process.wait(timeout=5)
                raise RuntimeError(f"exited ({code}) before it was ready{_log_tail(log)}")
            line += byte
    return line[:-1].decode()


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> Any:
    """Terminate ``process``, killing it if it does not stop in ``timeout`` seconds; return
    what it printed on stdout that was not read yet (``b""`` or ``""`` when none)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    if process.stdout is None or process.stdout.closed:
        return b""
    with process.stdout:
        return process.stdout.read()


def _log_tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return f"; end of its log {log}:\n{log.read_text(errors='replace')[-4000:]}"
