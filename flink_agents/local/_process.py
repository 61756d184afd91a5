"""Process plumbing shared by the parts of the local stack: Java, ports, pids, logs, waits."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from flink_agents.errors import StackError

T = TypeVar("T")


def java_executable() -> str:
    """The ``java`` to run Kafka and Flink with: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise StackError(
            "Java was not found: Kafka and Flink need Java 17 or newer. "
            "Install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
        )
    return found


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail early, naming the port and its setting, when something already listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise StackError(
                f"port {host}:{port} ({what}) is already in use. Stop what listens there "
                f"(`ss -ltnp 'sport = :{port}'` shows it) or choose another port in "
                "flink-agents.yaml."
            ) from None


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago and that this process was not given before.

    Tests use it to run beside a user's stack. The kernel can hand the same free port to
    two binds in a row, and a stack given one port for two listeners does not start, so a
    port is never returned twice.

    >>> free_port() != free_port()
    True
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, or a note that it does not exist."""
    if not path.exists():
        return f"(no log at {path})"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def read_pid(path: Path, marker: str | None = None) -> int | None:
    """The pid in a pid file when that process is still alive (and ``marker`` is in its
    command line)."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid, marker) else None


def pid_alive(pid: int, marker: str | None = None) -> bool:
    """True when ``pid`` runs and is not a zombie.

    With ``marker``, the process's command line must also contain it: a pid file left by a
    machine that went down may name a pid that the system has since given to an unrelated
    process, which must be neither reported as ours nor stopped.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _is_zombie(pid):
        return False
    if marker is None:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid
    return marker.encode() in cmdline


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, wait for exit, SIGKILL when it does not stop in time."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, wait):
            return
    raise StackError(f"process {pid} did not stop after SIGKILL")


def _wait_gone(pid: int, timeout: float) -> bool:
    return poll(lambda: not pid_alive(pid) or None, timeout, interval=0.1) is not None


def poll(check: Callable[[], T | None], timeout: float, interval: float = 0.2) -> T | None:
    """Call ``check`` until it returns something other than None, and return that; None when
    ``timeout`` seconds pass first (``check`` is always called at least once)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] = lambda: True,
    log: Path | Callable[[], Path] | None = None,
    interval: float = 0.25,
) -> None:
    """Poll ``ready`` until it holds; fail fast (with the log's tail) if ``alive`` turns false.

    ``log`` may be a function: it is asked only when the wait fails, by when a starting
    daemon has written (and named) its log.
    """

    def check() -> bool | None:
        if ready():
            return True
        if not alive():
            raise StackError(f"{what} exited during start-up. {_tail(log)}")
        return None

    if poll(check, timeout, interval) is None:
        raise StackError(f"{what} was not ready after {timeout:.0f}s. {_tail(log)}")


def _tail(log: Path | Callable[[], Path] | None) -> str:
    path = log() if callable(log) else log
    return f"Last lines of {path}:\n{tail(path) if path else '(no log)'}"


def start_background(
    cmd: list[str],
    log: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    append: bool = True,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a session of its own (it outlives this command), its output and
    errors appended to ``log`` (or replacing it), and its pid in ``pid_file``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab" if append else "wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc


def run_captured(
    cmd: list[str], env: dict[str, str], timeout: float
) -> tuple[int | None, str, str]:
    """Run ``cmd`` in a session of its own; its exit code (None when it ran out of time and
    was killed, with every process it started), its stdout and its stderr."""
    with subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path.cwd(),
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # flink run starts a JVM, which starts the job file's Python: end them all.
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            return None, out or "", err or ""
        return process.returncode, out or "", err or ""
