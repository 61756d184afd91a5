"""What the two fork servers share: waking on a child's exit, reaping, and a clean child.

``runtime/_fork_server.py`` forks call processes beside a TaskManager and
``local/_warm_python.py`` forks the job files ``submit`` runs. Each is one thread waiting in
``select()`` on its sockets and on ``wake_on_child_exit``'s descriptor, so a child's exit
interrupts the wait without a thread (a thread must not run while the server forks).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Iterator


def wake_on_child_exit() -> int:
    """A descriptor that becomes readable when a child exits; drain it with ``drain``."""
    wake_r, wake_w = os.pipe()
    for end in (wake_r, wake_w):
        os.set_blocking(end, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up fd is written
    return wake_r


def drain(wake: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(wake, 512):
            pass


def exited_children() -> Iterator[tuple[int, int]]:
    """(pid, exit code) of each child that has exited, reaped; a signal's is negative."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, os.waitstatus_to_exitcode(status)


def in_child(close: Iterable[int]) -> None:
    """In a child just forked: the default signal handling back, and the server's
    descriptors in ``close`` closed (a copy of another child's socket would keep its
    reader from ever reading end-of-file)."""
    wake_w = signal.set_wakeup_fd(-1)
    if wake_w != -1:
        os.close(wake_w)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd in close:
        with contextlib.suppress(OSError):
            os.close(fd)
