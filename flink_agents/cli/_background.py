"""The jobs a shell started in the background: each a ``flink-agents sql ...`` process.

Each job runs in its own process group (its MiniCluster JVM is a child of it), so stopping
one ends the group: SIGTERM, then SIGKILL to what is left after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flink_agents.cli._sql import in_background


@dataclass
class Job:
    """One background job: what it does (``serves triage``, ``INSERT #2``), its process and
    its log."""

    label: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class BackgroundJobs:
    """The background jobs of one shell, by key; the shell stops them all when it exits."""

    def __init__(self, home: Path, grace: float = 20.0) -> None:
        self.home = home
        self.grace = grace
        self._jobs: dict[str, Job] = {}

    def start(self, key: str, label: str, args: list[str], log: Path) -> Job:
        """Start ``flink-agents sql ARGS``; the job of the same key, if any, is stopped first."""
        self.stop(key)
        job = Job(label, in_background(args, log, self.home), log)
        self._jobs[key] = job
        return job

    def get(self, key: str) -> Job | None:
        return self._jobs.get(key)

    def stop(self, key: str) -> Job | None:
        """Stop the job of ``key`` (its whole process group); the stopped job, or None."""
        job = self._jobs.pop(key, None)
        if job is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            job.process.wait(self.grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)  # what outlived its leader (the JVM)
        job.process.wait(10)
        return job

    def stop_all(self) -> list[Job]:
        return [job for key in list(self._jobs) if (job := self.stop(key)) is not None]


__all__ = ["BackgroundJobs", "Job"]
