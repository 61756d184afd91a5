"""Run a PyFlink job file as its own process (a local MiniCluster), as a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from flink_agents.local import tail


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
        """SIGTERM to the group, then, after its leader exits or ``timeout`` passes, SIGKILL
        to whatever of the group is left (the MiniCluster JVM can outlive its parent)."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)
