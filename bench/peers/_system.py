"""Apache Flink Agents as a system under test: its job in its own venv, its processes' CPU.

The job runs as ``python bench/peers/apache_job.py`` in the peer venv: PyFlink starts a JVM
(a MiniCluster: JobManager and TaskManager in one process) as a child of that Python, and
Python workers, if any, below it. Its cost is the CPU of that whole process tree.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench._harness import ROOT
from bench.peers._compare import THEIRS
from bench.workloads import agent
from flink_agents.core._machine import render_system


@dataclass
class PeerSystem:
    """Duck-typed like ``bench._harness.System``: ``name``, ``pids``, ``start``, ``stop``."""

    python: Path
    bootstrap: str
    jars: list[str]
    logs: Path
    flink: dict[str, Any]
    name: str = THEIRS
    job_id: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [self.proc.pid, *(c.pid for c in children)]

    def start(
        self, workload: str, capacity: int, topic_in: str, topic_out: str, model_url: str
    ) -> None:
        """Start the job (it is running once it answers: the caller waits for that)."""
        # The same system prompt flink-agents sends for the same agent.
        prompt = render_system(agent(workload, capacity, model_url))  # type: ignore[arg-type]
        self.log = self.logs / f"apache-{workload}-{topic_in}.log"
        command = [
            str(self.python),
            str(ROOT / "bench" / "peers" / "apache_job.py"),
            *("--workload", workload, "--capacity", str(capacity)),
            *("--input", topic_in, "--output", topic_out, "--model-url", model_url),
            *("--bootstrap", self.bootstrap, "--system-prompt", prompt),
            *("--parallelism", str(self.flink["parallelism"])),
            *("--execution-mode", str(self.flink["execution_mode"])),
            *("--bundle-size", str(self.flink["bundle_size"])),
            *("--bundle-time-ms", str(self.flink["bundle_time_ms"])),
            *("--buffer-timeout-ms", str(self.flink["buffer_timeout_ms"])),
            *("--checkpoint-interval-s", str(self.flink["checkpoint_interval_s"])),
            *("--linger-ms", str(self.flink["producer_linger_ms"])),
            "--jars",
            *self.jars,
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def failed(self) -> str | None:
        """Why the job is gone, with its log's tail, or None while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        tail = self.log.read_text(errors="replace").splitlines()[-30:]
        return f"the Apache Flink Agents job exited ({self.proc.returncode}):\n" + "\n".join(tail)

    def stop(self) -> None:
        if self.proc is None:
            return
        procs = [p for p in map(_proc, self.pids) if p is not None]
        for p in reversed(procs):  # the JVM and its workers first, then the Python client
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(procs, timeout=20)
        for p in alive:
            p.kill()
        self.proc.wait(10)
        self.proc = None


def _proc(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
