"""Run a PyFlink job file as its own process (a local MiniCluster), as a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from flink_agents.local._process import tail


class JobProcess:
    """``python job.py args`` in a new process group, with its output in a log file.

    Stopping kills the whole group, so the MiniCluster JVM that PyFlink started goes too.
    """

    def __init__(self, script: Path | str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.argv = [sys.executable, str(script), *args]
        self.env = env
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> JobProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self._proc is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self._proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self._proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._kill_group_leftovers()

    def _kill_group_leftovers(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)
