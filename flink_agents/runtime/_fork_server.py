"""The fork server that call processes come from: one per TaskManager, with the executor
and its clients already imported.

A call process started as a fresh Python spent 3-4 s on 2 cores importing the model, MCP and
Kafka clients, at every job's start (``bench/README.md``). The first operator to open on a
TaskManager starts this server, which imports them once (``PRELOAD``); each operator's
``open`` then has it fork a call process, which has them loaded. Modules stay loaded from one
job to the next, as they do in the TaskManager's own interpreter; each child runs with the
``sys.path`` the TaskManager had when its operator opened, for the job's own modules.

The TaskManager's side (``ForkServer``) sends a request with the socket the call process
will serve on, and reads the child's pid back. The server keeps a copy of that socket: once
it has reaped the child it sends ``("exited", code)`` on it, the last message the operator
reads there, so the operator learns the exit code of a process that is not its own child.
It kills a child of its own on request, so a pid reused by another process is never
signalled. It ends when the TaskManager's end of its socket closes; call processes already
forked go on until their own sockets close.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

from flink_agents._forking import drain, exited_children, in_child, wake_on_child_exit
from flink_agents.runtime._executor_config import ExecutorClosed

#: What the server imports before it forks: the call process's module and the executor,
#: and through them the model, MCP and Kafka clients. It also reads the certificate store.
PRELOAD = ("flink_agents.runtime._call_process", "flink_agents.runtime._executor")
#: The server's ``sys.path``: the TaskManager's, passed in the environment and taken out of
#: it before anything starts (MCP servers that call processes start must not inherit it).
SYS_PATH_VARIABLE = "FLINK_AGENTS_FORK_SERVER_PATH"
_BOOT = (
    "import os, sys; "
    f"sys.path[:0] = os.environ.pop({SYS_PATH_VARIABLE!r}).split(os.pathsep); "
    "from flink_agents.runtime._fork_server import main; "
    "sys.exit(main(int(sys.argv[1])))"
)


class ForkServer:
    """The TaskManager's side: starts the server when first asked, and again if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None or process.poll() is not None else process.pid

    def fork(self, sock: socket.socket, owner: tuple[int, int], timeout: float) -> int:
        """Fork a call process that serves on ``sock`` while the thread ``owner`` (pid,
        native thread id) runs; its pid. ``timeout`` covers the server's start."""
        request = ("fork", (owner, [p for p in sys.path if p]))
        with self._lock:
            try:
                self._send(request, sock)
            except OSError:  # the server died since the last request: start another, once
                self._stop()
                try:
                    self._send(request, sock)
                except OSError as exc:
                    self._stop()
                    raise self._failed(exc) from None
            try:
                return self._reply(timeout)
            except (OSError, EOFError) as exc:
                # Not asked again: the server may have forked the call process before it
                # failed, and a second one would serve on the same socket.
                self._stop()
                raise self._failed(exc) from None

    def kill(self, pid: int) -> None:
        """Kill the call process ``pid`` if it is still running."""
        with self._lock, contextlib.suppress(OSError):
            if self._conn is not None:
                self._conn.send(("kill", pid))

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _send(self, request: tuple[str, Any], sock: socket.socket) -> None:
        if self.pid is None:
            self._start()
        assert self._conn is not None and self._sock is not None
        self._conn.send(request)
        socket.send_fds(self._sock, [b"s"], [sock.fileno()])

    def _reply(self, timeout: float) -> int:
        assert self._conn is not None
        if not self._conn.poll(timeout):
            raise TimeoutError(f"it did not answer in {timeout:g}s")
        kind, detail = self._conn.recv()
        if kind == "failed":
            raise ExecutorClosed(f"the call processes' fork server could not fork: {detail}")
        return int(detail)

    @staticmethod
    def _failed(exc: BaseException) -> ExecutorClosed:
        return ExecutorClosed(
            f"the call processes' fork server failed ({exc!r}); "
            "its error is in the TaskManager's output"
        )

    def _start(self) -> None:
        self._stop()
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env[SYS_PATH_VARIABLE] = os.pathsep.join(p for p in sys.path if p)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=env,
            )
        finally:
            theirs.close()
        self._sock = ours
        self._conn = Connection(os.dup(ours.fileno()))

    def _stop(self) -> None:
        for end in (self._conn, self._sock):
            if end is not None:
                end.close()  # the server reads end-of-file and exits
        self._conn = self._sock = None
        if self._process is not None and self._process.poll() is None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


#: The TaskManager's fork server (one per Python interpreter).
SERVER = ForkServer()


# -- the server ------------------------------------------------------------------------------


def main(fd: int) -> int:
    """Serve fork requests from the TaskManager at the other end of ``fd`` until it closes."""
    for name in PRELOAD:
        importlib.import_module(name)
    from flink_agents._tls import tls_context

    tls_context()  # the certificate store, which each child's first client would read
    sock = socket.socket(fileno=fd)
    conn = Connection(os.dup(fd))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the TaskManager's
    wake = wake_on_child_exit()
    #: Running children, with the server's copy of each one's socket.
    live: dict[int, int] = {}
    while True:
        ready, _, _ = select.select([conn.fileno(), wake], [], [])
        if wake in ready:
            drain(wake)
            for pid, code in exited_children():
                if pid in live:
                    _report_exit(live.pop(pid), code)
        if conn.fileno() not in ready:
            continue
        try:
            kind, detail = conn.recv()
        except (EOFError, OSError):
            return 0  # the TaskManager is gone
        if kind == "kill":
            if detail in live:
                os.kill(detail, signal.SIGKILL)
            continue
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
        [child_fd] = fds
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(child_fd)
            conn.send(("failed", str(exc)))
            continue
        if pid == 0:
            conn.close()
            sock.close()
            in_child(close=[wake, *live.values()])
            os._exit(_serve(child_fd, *detail))
        live[pid] = child_fd
        conn.send(("forked", pid))


def _serve(fd: int, owner: tuple[int, int], path: list[str]) -> int:
    """The call process, forked: its exit code."""
    try:
        sys.path[:] = path
        from flink_agents.runtime._call_process import serve

        return serve(fd, *owner)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - printed to the TaskManager's output, as a crash
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()


def _report_exit(fd: int, code: int) -> None:
    """Send a reaped child's exit code on its socket, the last message there."""
    os.set_blocking(fd, False)  # an operator that stopped reading cannot stall the server
    report = Connection(fd)
    with contextlib.suppress(OSError):
        report.send(("exited", code))
    report.close()
