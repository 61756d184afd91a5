"""The warm Python: runs the job files ``submit`` hands the warm client, forked from a
process that has PyFlink, Apache Beam and this package imported.

Through the warm client (``_warm.py``) a job file ran under a fresh ``python``, which spent
about 2.5 s of each submission on 2 cores importing PyFlink, this package and Apache Beam
(PyFlink's ``fn_execution`` looks for Beam's compiled coders as soon as a job adds a Python
function: 1.5-1.8 s alone). ``local up`` starts this server beside the warm client; it
imports them once and listens on a Unix socket under the stack's ``run`` folder. ``submit``
sends the command (``python job.py args`` or ``python -m module args``), its environment
and working folder, and the write ends of two pipes; the server forks, and the child runs
the job file as ``__main__`` as ``python`` would (``sys.argv``, ``sys.path`` from the job
file's folder and ``PYTHONPATH``, the environment, the folder) with its output on the
pipes, in a session of its own. The server sends the child's pid, then its exit code once
it has reaped it; it kills the child's session when asked (the submission ran out of time)
or when the submitter goes away.

The modules the server imported stay loaded for every job file it runs, as the
TaskManager's interpreter keeps them between jobs: after changing ``flink_agents``, restart
the stack. When the server is not running (or is still importing) a job file runs under a
fresh ``python`` as before.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import runpy
import select
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from flink_agents import _pythonenv
from flink_agents._forking import drain, exited_children, in_child, wake_on_child_exit
from flink_agents.config import Settings
from flink_agents.local import _process

#: What the server imports before it serves: what building an agent job imports.
PRELOAD = (
    "pyflink.datastream",
    "pyflink.table",
    "pyflink.fn_execution",
    "flink_agents",
    "flink_agents.runtime._app",
)
#: How long a submitter waits for the server to fork before it runs ``python`` itself.
ANSWER_S = 10.0
#: How long the child's output is still read after its session was killed.
_AFTER_KILL_S = 5.0


@dataclass
class WarmPython:
    """Start, stop and use the warm Python; its files live under ``settings.home``."""

    settings: Settings

    @property
    def socket_path(self) -> Path:
        return self.settings.home / "run" / "warm-python.sock"

    @property
    def log(self) -> Path:
        return self.settings.home / "logs" / "warm-python.log"

    @property
    def _pid_file(self) -> Path:
        return self.settings.home / "run" / "warm-python.pid"

    def pid(self) -> int | None:
        """The server's pid while it runs (its command line names its socket)."""
        return _process.read_pid(self._pid_file, marker=str(self.socket_path.resolve()))

    def ready(self) -> bool:
        """True once the server has imported its modules and listens."""
        return self.pid() is not None and self.socket_path.exists()

    def state(self) -> str:
        """``ready``, ``importing`` (started, not listening yet) or ``not running``."""
        if self.pid() is None:
            return "not running"
        return "ready" if self.socket_path.exists() else "importing"

    def start(self, env: dict[str, str]) -> None:
        """Start the server unless it runs; it listens once its imports are done."""
        if self.pid() is not None:
            return
        self.socket_path.unlink(missing_ok=True)
        _process.start_background(
            [
                _pythonenv.python_executable(),
                "-m",
                "flink_agents.local._warm_python",
                str(self.socket_path.resolve()),
            ],
            self.log,
            self._pid_file,
            env,
        )

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            _process.terminate(pid)
        self._pid_file.unlink(missing_ok=True)
        self.socket_path.unlink(missing_ok=True)

    def run(
        self, command: list[str], env: dict[str, str], timeout: float
    ) -> tuple[int | None, str, str] | None:
        """Run ``command`` in a child of the server, as ``run_captured`` runs it: its exit
        code (None when it ran out of time and its session was killed), stdout and stderr.
        None when the server cannot run it (not running, still importing, another Python,
        no answer): the caller runs it itself."""
        if command[0] != _pythonenv.python_executable() or not self.ready():
            return None
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.settimeout(ANSWER_S)
            sock.connect(str(self.socket_path))
            sock.settimeout(None)
        except OSError:
            sock.close()
            return None
        conn = Connection(os.dup(sock.fileno()))
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            try:
                conn.send(("run", (command[1:], env, os.getcwd())))
                socket.send_fds(sock, [b"r"], [out_w, err_w])
            finally:
                os.close(out_w)
                os.close(err_w)
            if not conn.poll(ANSWER_S) or conn.recv()[0] != "forked":
                return None  # nothing runs: closing the connection ends whatever it started
            # From here on the job file runs, and may submit a job: never run it again.
            return _outcome(conn, out_r, err_r, timeout)
        except (OSError, EOFError):
            return None
        finally:
            for fd in (out_r, err_r):
                os.close(fd)
            conn.close()
            sock.close()


def _outcome(
    conn: Connection, out_r: int, err_r: int, timeout: float
) -> tuple[int | None, str, str]:
    """The exit code, stdout and stderr of the job file that runs; the code is None when
    it ran out of time."""
    try:
        out, err, killed = _read_until_exit(conn, out_r, err_r, timeout)
        if killed:
            return None, out, err
        if conn.poll(_AFTER_KILL_S):
            return conn.recv()[1], out, err
    except (OSError, EOFError):
        out, err = "", ""
    return 1, out, err + "\nthe warm Python ended before the job file's exit code was known"


def _read_until_exit(
    conn: Connection, out_r: int, err_r: int, timeout: float
) -> tuple[str, str, bool]:
    """The child's stdout and stderr, read until both end; whether it ran out of time."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    deadline = time.monotonic() + timeout
    killed = False
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                if killed:
                    break  # something the job started still holds the pipes
                conn.send(("kill", None))
                killed = True
                deadline = time.monotonic() + _AFTER_KILL_S
                continue
            for key, _ in selector.select(left):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
    out, err = (b"".join(chunks[fd]).decode(errors="replace") for fd in (out_r, err_r))
    return out, err, killed


# -- the server ------------------------------------------------------------------------------


def main(path: str) -> int:
    """Import, then serve run requests on the Unix socket ``path`` until terminated, or
    until the code it imported has changed on disk and the job files it runs have ended."""
    for name in PRELOAD:
        importlib.import_module(name)
    sources = _sources()
    #: sys.path without its first entry (this module's folder) and PYTHONPATH's entries.
    pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    base = sys.path[1 + len(pythonpath) :]
    listener = socket.socket(socket.AF_UNIX)
    Path(path).unlink(missing_ok=True)
    listener.bind(path + ".new")
    os.chmod(path + ".new", 0o600)
    listener.listen()
    os.replace(path + ".new", path)  # the socket appears once it accepts
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    wake = wake_on_child_exit()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"warm python: ready on {path}")
    clients: dict[int, tuple[socket.socket, Connection]] = {}
    #: The child each client started, and the reverse.
    child_of: dict[int, int] = {}
    client_of: dict[int, int] = {}
    #: What each child runs and since when, for the log.
    runs: dict[int, tuple[str, float]] = {}
    stale = False
    while not (stale and not client_of):
        ready, _, _ = select.select([listener.fileno(), wake, *clients], [], [])
        if wake in ready:
            drain(wake)
            for pid, code in exited_children():
                what, since = runs.pop(pid, ("?", time.monotonic()))
                took = time.monotonic() - since
                print(f"warm python: ran {what} (pid {pid}): exit code {code} after {took:.1f}s")
                client = client_of.pop(pid, None)
                if client is not None:
                    del child_of[client]
                    with contextlib.suppress(OSError):
                        clients[client][1].send(("exited", code))
        if listener.fileno() in ready:
            sock, _ = listener.accept()
            clients[sock.fileno()] = (sock, Connection(os.dup(sock.fileno())))
        for fd in [fd for fd in ready if fd in clients]:
            sock, conn = clients[fd]
            try:
                kind, detail = conn.recv()
            except (EOFError, OSError):
                kind, detail = "gone", None
            if kind == "run" and fd not in child_of:
                _, fds, _, _ = socket.recv_fds(sock, 1, 2)
                if stale or _changed(sources):
                    for unused in fds:
                        os.close(unused)
                    conn.send(("stale", None))  # the submitter runs python itself
                    if not stale:
                        stale = True
                        Path(path).unlink(missing_ok=True)
                        print(
                            "warm python: flink_agents or PyFlink changed since it started; "
                            "stopping once its job files end (`local up` starts it again)"
                        )
                    continue
                pid = _fork(detail, fds, base, close=[listener.fileno(), wake, *_fds(clients)])
                child_of[fd], client_of[pid] = pid, fd
                runs[pid] = (_shorter(" ".join(detail[0])), time.monotonic())
                conn.send(("forked", pid))
            elif fd in child_of:  # a kill, or the submitter went away: end the session
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child_of[fd], signal.SIGKILL)
            if kind == "gone":
                client_of.pop(child_of.pop(fd, -1), None)
                conn.close()
                sock.close()
                del clients[fd]
    listener.close()
    return 0


def _shorter(text: str, most: int = 200) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def _sources() -> dict[str, int]:
    """The files of the imported ``flink_agents`` and PyFlink modules, with their times."""
    found = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and name.partition(".")[0] in ("flink_agents", "pyflink"):
            with contextlib.suppress(OSError):
                found[path] = os.stat(path).st_mtime_ns
    return found


def _changed(sources: dict[str, int]) -> bool:
    """True if one of ``sources`` changed: a job file would run the old code."""
    for path, mtime in sources.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def _fds(clients: dict[int, tuple[socket.socket, Connection]]) -> list[int]:
    return [fd for sock, conn in clients.values() for fd in (sock.fileno(), conn.fileno())]


def _fork(
    request: tuple[list[str], dict[str, str], str],
    fds: list[int],
    base: list[str],
    close: list[int],
) -> int:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    in_child(close)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setsid()  # a session of its own, as run_captured gives a job file
    code = _run(*request, fds, base)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _run(argv: list[str], env: dict[str, str], cwd: str, fds: list[int], base: list[str]) -> int:
    """Run the job file as ``python`` would with ``argv``: its exit code."""
    out, err = fds
    null = os.open(os.devnull, os.O_RDONLY)
    for fd, target in ((null, 0), (out, 1), (err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    pythonpath = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    try:
        os.chdir(cwd)
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            sys.path[:] = [cwd, *pythonpath, *base]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            sys.path[:] = [str(Path(argv[0]).resolve().parent), *pythonpath, *base]
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - as python reports an uncaught exception
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
