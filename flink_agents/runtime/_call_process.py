"""The call executor in a process of its own, beside the TaskManager that hosts the agents.

In PyFlink's thread mode the agent operator runs in the TaskManager's embedded Python, and
so did the executor's event loop: one interpreter lock for both, busy about 0.9 of a core
between them under load. Here the loop runs in a child process started by the operator's
``open()``: each side has a lock of its own, and the host's second core is used. On the
classifier at 500 ms with 128 calls in flight, once the JIT compilers had settled, the share
of Little's bound went from 0.67-0.70 to 0.79-0.83 (``bench/README.md``).

``CallProcess`` is the operator's side and has ``CallExecutor``'s interface. It keeps the
accounting the operator asks about (calls admitted per agent, which calls are in flight,
the back-pressure of ``submit``) and sends calls, cancels and delegations over a socket.
The child runs an unchanged ``CallExecutor`` and reports each result it writes to the
events topic (``handed``), in batches, and each write that failed (``lost``). Results
still come back to the operator through the events topic, as before.

Call processes are forked from a server that has the executor and its clients imported
(``_fork_server``), one per TaskManager: a fresh Python spent 3-4 s importing them at every
job's start.

The child ends when the operator closes it, when its socket closes because the TaskManager
went away, or when the Flink task thread that opened the operator has ended: PyFlink's
thread mode calls a function's ``close()`` only when its input ends, never when Flink
cancels the job or restarts the task after a failure, and the TaskManager lives on. If the
child dies, the operator's next use of it raises, the task fails and Flink restarts it with
a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import pickle
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from multiprocessing.connection import Connection
from typing import Any

from flink_agents.api import Agent
from flink_agents.core import Call, Delegation
from flink_agents.runtime._executor_config import (
    ExecutorClosed,
    ExecutorConfig,
    handed_over_limit,
    still_in_flight,
)
from flink_agents.runtime._fork_server import SERVER
from flink_agents.runtime._log_levels import quiet_python_logging

log = logging.getLogger(__name__)

#: Time the child may take to import its libraries, on top of ``start_timeout_s``: the
#: fork server's start, for the first operator to open on a TaskManager.
IMPORT_GRACE_S = 60.0
#: How often the child looks whether the task thread that started it still runs.
OWNER_CHECK_S = 1.0
#: The child's exit code when it stopped because that thread had ended.
ORPHANED = 3
#: Allocations between passes of the cyclic collector over its youngest generation
#: (CPython's default is 700). Most of a call's objects die by reference count; at 128
#: calls in flight the default ran 20 to 40 passes a second, each of 1 to 20 ms.
GC_YOUNG_THRESHOLD = 10_000


class CallProcess:
    """The operator's side of the call process: ``CallExecutor``'s interface.

    ``submit``, ``settle``, ``cancel`` and the questions are for the Flink task thread.
    """

    def __init__(self, agents: Iterable[Agent], config: ExecutorConfig) -> None:
        self.agents = {a.name: a for a in agents}
        self.config = config
        self._cond = threading.Condition()
        #: Calls sent and not yet written, by id, with their agent.
        self._running: dict[str, str] = {}
        #: Calls whose result was written and not yet read back, with when.
        self._delivered: dict[str, float] = {}
        self._admitted: Counter[str] = Counter()
        self._tool_names: dict[str, tuple[str, ...]] = {}
        self._closing = False
        #: Why the child is no longer usable (None while it is).
        self._ended: str | None = None
        #: The child's pid once forked, and its exit code once the fork server reported it.
        self.pid: int | None = None
        self._exit_code: int | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> CallProcess:
        """Start the child and wait until its clients and MCP sessions are open; raise what
        failed there."""
        import cloudpickle

        ours, theirs = socket.socketpair()
        self._conn = Connection(ours.detach())
        wait = self.config.start_timeout_s + IMPORT_GRACE_S
        try:
            # The task thread that runs open(): the child watches it (OWNER_CHECK_S).
            owner = (os.getpid(), threading.get_native_id())
            self.pid = SERVER.fork(theirs, owner, timeout=wait)
        except BaseException:
            self._conn.close()
            raise
        finally:
            theirs.close()
        try:
            self._conn.send_bytes(cloudpickle.dumps((list(self.agents.values()), self.config)))
            if not self._conn.poll(wait):
                raise TimeoutError(f"the call process did not start within {wait:g}s")
            kind, detail = self._conn.recv()
            while kind == "log":  # what the child logged while starting
                _relog(*detail)
                kind, detail = self._conn.recv()
        except (EOFError, BrokenPipeError):  # it exited: what it sent before is still here
            kind, detail = "exited", self._last_words()
        except BaseException:
            self._stop_child()
            raise
        if kind == "exited":
            self._exit_code = detail
            self._stop_child()
            raise ExecutorClosed(
                f"the call process exited while starting ({self._exit()}); "
                "its error is in the TaskManager's output"
            )
        if kind == "failed":
            self._stop_child()
            raise detail
        self._tool_names = detail
        self._reader = threading.Thread(
            target=self._read, name="flink-agents-call-process", daemon=True
        )
        self._reader.start()
        return self

    def close(self) -> None:
        """Ask the child to stop its calls, close its sessions and flush; then wait for it."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._reader is None:
            return
        with contextlib.suppress(ExecutorClosed):  # the child is already gone
            self._send(("close", None))
        self._reader.join(45)  # it reads until the child has exited
        if self._reader.is_alive():
            log.warning("the call process did not stop within 45s; killed")
        self._stop_child()
        self._reader.join(5)

    def _stop_child(self) -> None:
        """Kill the child unless it has exited, and close the socket."""
        if self.pid is not None and self._exit_code is None:
            SERVER.kill(self.pid)
        if self._conn is not None:
            self._conn.close()

    def _last_words(self) -> int | None:
        """Log what the exited child still sent; the exit code the fork server reported."""
        assert self._conn is not None
        code = None
        with contextlib.suppress(EOFError, OSError):
            while True:
                kind, detail = self._conn.recv()
                if kind == "log":
                    _relog(*detail)
                elif kind == "exited":
                    code = detail
        return code

    def _exit(self) -> str:
        if self._exit_code is None:
            return "its exit code is unknown: the fork server is gone"
        return f"exit code {self._exit_code}"

    # -- calls (task thread) -------------------------------------------------------------

    def tool_names(self, agent: str) -> tuple[str, ...]:
        return self._tool_names.get(agent, ())

    def submit(self, calls: list[Call]) -> None:
        """Send calls not already in flight; wait while their agent has no room."""
        with self._cond:
            fresh = [c for c in calls if not self._tracked(c.id)]
            for agent in dict.fromkeys(c.agent for c in fresh):
                limit = handed_over_limit(self.agents[agent].limits)
                while self._admitted[agent] >= limit and self._usable():
                    self._cond.wait(1.0)
            self._check()
            for call in fresh:
                self._running[call.id] = call.agent
                self._admitted[call.agent] += 1
        if fresh:
            self._send(("submit", fresh))

    def delegate(self, delegations: list[Delegation]) -> None:
        if delegations:
            self._send(("delegate", delegations))

    def admitted(self, agent: str) -> int:
        with self._cond:
            self._check()
            return self._admitted[agent]

    def in_flight(self, call_id: str) -> bool:
        with self._cond:
            self._check()
            return self._tracked(call_id)

    def settle(self, call_ids: Iterable[str]) -> None:
        """The operator read these results back: the calls are no longer in flight.

        A result can come back through Kafka before the child's report of it does; the
        call is then settled here and the report, when it comes, finds nothing to do.
        """
        with self._cond:
            for call_id in call_ids:
                self._forget(call_id)
            self._cond.notify_all()

    def cancel(self, call_ids: Iterable[str]) -> None:
        with self._cond:
            stopped = [call_id for call_id in call_ids if self._forget(call_id)]
            self._cond.notify_all()
        if stopped:
            self._send(("cancel", stopped))

    def _forget(self, call_id: str) -> bool:
        """No longer count the call (under ``_cond``); True if it was still running."""
        self._delivered.pop(call_id, None)
        agent = self._running.pop(call_id, None)
        if agent is None:
            return False
        self._admitted[agent] -= 1
        return True

    def _tracked(self, call_id: str) -> bool:
        return still_in_flight(call_id, self._running, self._delivered)

    def _usable(self) -> bool:
        return not self._closing and self._ended is None

    def _check(self) -> None:
        if self._ended is not None:
            raise ExecutorClosed(self._ended)
        if self._closing:
            raise ExecutorClosed("the call executor is not running; the job is stopping")

    def _send(self, message: tuple[str, Any]) -> None:
        assert self._conn is not None
        try:
            with self._send_lock:
                self._conn.send(message)
        except OSError as exc:
            raise ExecutorClosed(f"the call process is gone: {exc}") from exc

    # -- reports (reader thread) ---------------------------------------------------------

    def _read(self) -> None:
        assert self._conn is not None
        while True:
            try:
                kind, detail = self._conn.recv()
            except (EOFError, OSError):
                break
            if kind == "handed":
                self._handed(detail)
            elif kind == "log":
                _relog(*detail)
            elif kind == "lost":
                with self._cond:
                    for call_id in detail:
                        self._delivered.pop(call_id, None)
            elif kind == "exited":  # the fork server's report, last
                self._exit_code = detail
        with self._cond:
            if self._exit_code == ORPHANED:
                self._ended = "the call process stopped: the task that started it has ended"
                log.info("%s", self._ended)
            elif not self._closing:
                self._ended = f"the call process exited unexpectedly ({self._exit()})"
                log.error("%s; the task fails and Flink restarts it", self._ended)
            self._cond.notify_all()

    def _handed(self, call_ids: list[str]) -> None:
        now = time.monotonic()
        with self._cond:
            for call_id in call_ids:
                agent = self._running.pop(call_id, None)
                if agent is None:
                    continue  # settled or cancelled meanwhile
                self._admitted[agent] -= 1
                self._delivered[call_id] = now
            self._cond.notify_all()


def _relog(name: str, level: int, message: str) -> None:
    logging.getLogger(name).log(level, "%s", message)


# -- the child -------------------------------------------------------------------------------


class _Reports:
    """The child's reports to the operator: the results written, batched per loop turn."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._handed: list[str] = []

    def handed(self, call_id: str) -> None:
        """On the executor's loop: every result written in this turn goes in one message."""
        with self._lock:
            first = not self._handed
            self._handed.append(call_id)
        if first:
            asyncio.get_running_loop().call_soon(self._flush)

    def lost(self, call_id: str) -> None:
        self.send(("lost", [call_id]))

    def _flush(self) -> None:
        with self._lock:
            handed, self._handed = self._handed, []
        if handed:
            self.send(("handed", handed))

    def send(self, message: tuple[str, Any]) -> None:
        try:
            with self._lock:
                self._conn.send(message)
        except OSError:
            pass  # the operator is gone; the dispatcher sees it and stops


def serve(fd: int, owner_pid: int, owner_thread: int) -> int:
    """The child's main: run a ``CallExecutor`` for the operator at the other end of ``fd``,
    while the thread ``owner_thread`` of process ``owner_pid`` (the Flink task) runs."""
    from flink_agents.runtime._executor import CallExecutor

    # Read while the thread waits for this process to start: it runs for certain.
    owner = (owner_pid, owner_thread, _thread_start(owner_pid, owner_thread))
    conn = Connection(fd)
    reports = _Reports(conn)
    # The child's log records (the executor's, the MCP servers' stderr lines) are logged
    # again on the operator's side, so they reach the TaskManager's log as before.
    logging.getLogger().handlers[:] = [_Forward(reports)]
    quiet_python_logging()
    try:
        agents, config = pickle.loads(conn.recv_bytes())
        executor = CallExecutor(agents, config, listener=reports).start()
    except BaseException as exc:  # noqa: BLE001 - the operator raises it
        reports.send(("failed", _portable(exc)))
        return 1
    _quiet_collector()
    reports.send(("started", {a.name: executor.tool_names(a.name) for a in agents}))
    orphaned = threading.Event()
    threading.Thread(
        target=_watch_owner,
        args=(owner, fd, orphaned),
        name="flink-agents-owner",
        daemon=True,
    ).start()
    try:
        _dispatch(conn, executor)
    finally:
        executor.close()
    return ORPHANED if orphaned.is_set() else 0


def _quiet_collector() -> None:
    """Keep the cyclic collector's pauses off the executor's loop.

    What is alive once the executor has started (modules, clients, MCP sessions) lives as
    long as the process: frozen, the collector's full passes no longer walk it. They had
    paused the loop for 230-630 ms every few seconds with 128 calls in flight at 500 ms,
    calls whose results then waited (``bench/README.md``); frozen, 20-90 ms.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _watch_owner(owner: tuple[int, int, int | None], fd: int, orphaned: threading.Event) -> None:
    """Shut the socket down once the task thread that started this process has ended.

    Without ``/proc`` (not Linux) nothing is watched: the child then ends with the
    TaskManager, or when the operator closes it.
    """
    pid, thread, started = owner
    if started is None:
        return
    while _thread_start(pid, thread) == started:
        time.sleep(OWNER_CHECK_S)  # no event tells another process that a thread ended
    log.info(
        "the Flink task that started this call process has ended (cancelled, or restarted "
        "after a failure) without closing it; stopping its calls"
    )
    orphaned.set()
    # Wakes the dispatcher's recv() with end-of-file; the socket stays open for writing, for
    # what the child still logs and for the fork server's report of its exit.
    with socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RD)


def _thread_start(pid: int, thread: int) -> int | None:
    """When the thread started (clock ticks since boot), None if it is gone or unknown.

    The start time tells a thread from a later one that reused its id.
    """
    try:
        with open(f"/proc/{pid}/task/{thread}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return int(fields[19])  # field 22 of proc_pid_stat(5); the list starts at field 3


class _Forward(logging.Handler):
    """Sends each log record to the operator, which logs it under the same logger."""

    def __init__(self, reports: _Reports) -> None:
        super().__init__()
        self._reports = reports

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self._reports.send(("log", (record.name, record.levelno, message)))


def _dispatch(conn: Connection, executor: Any) -> None:
    while True:
        try:
            kind, detail = conn.recv()
        except (EOFError, OSError):
            log.warning("the operator is gone; stopping the calls")
            return
        if kind == "submit":
            executor.submit(detail)
        elif kind == "cancel":
            executor.cancel(detail)
        elif kind == "delegate":
            executor.delegate(detail)
        elif kind == "close":
            return


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else one that says the same."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure to pickle means: send its text
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
