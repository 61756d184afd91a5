"""The moving parts of a benchmark run: the model simulator, load, outputs, the systems, CPU.

Waiting here is measurement, not synchronisation: a window of N seconds is the thing measured.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.workloads import event
from flink_agents.config import Settings
from flink_agents.local import ClusterJobs, LocalStack
from flink_agents.testing import TopicClient, stop_process
from flink_agents.testing.model_server import spawn

ROOT = Path(__file__).resolve().parent.parent


def fresh_stack(settings: Settings, logs_name: str) -> tuple[LocalStack, Simulator, Path] | None:
    """The local stack started anew (Python modules stay loaded in a running TaskManager, so
    a running stack would measure an older checkout), the model simulator, and the folder
    ``logs/<logs_name>`` they log to; None when the stack does not start."""
    stack = LocalStack(settings)
    if any(p.running for p in stack.status()):
        print("restarting the local stack so the TaskManager loads this checkout", flush=True)
        stack.down()
    cli = str(Path(sys.executable).with_name("flink-agents"))
    if subprocess.run([cli, "local", "up"], check=False).returncode != 0:
        return None
    logs = settings.home / "logs" / logs_name
    logs.mkdir(parents=True, exist_ok=True)
    return stack, Simulator(logs / "simulator.log"), logs


class Simulator:
    """The model simulator as a subprocess, steered over HTTP (latency, reset, records)."""

    def __init__(self, log: Path) -> None:
        self._log = log.open("wb")
        self.proc, self.url = spawn(
            "--script",
            "bench.workloads:script",
            "--max-recorded",
            "50000",
            cwd=ROOT,
            stderr=self._log,
        )
        self._control = self.url.removesuffix("/v1") + "/_sim"

    def set_latency(self, ms: float) -> None:
        self._call("latency", {"latency_ms": ms, "jitter_ms": 0})

    def reset(self) -> None:
        self._call("reset", {})

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("requests")
        return result

    def completed(self) -> int:
        """Chat requests answered so far, whatever their status."""
        stats = self._call("stats")
        return sum(int(n) for n in stats.get("by_status", {}).values())

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()

    def _call(self, what: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self._control}/{what}", data=data, method="GET" if body is None else "POST"
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())


class Outputs(threading.Thread):
    """Reads an output topic as it fills: (Kafka timestamp in s, id) of each record."""

    def __init__(self, bootstrap: str, topic: str, *, committed: bool = True) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import Consumer

        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                # What users of exactly-once read; uncommitted: records as they are written.
                "isolation.level": "read_committed" if committed else "read_uncommitted",
            }
        )
        self._consumer.subscribe([topic])
        self.seen: list[tuple[float, Any]] = []
        #: When each id's first answer became readable here (outputs written in transactions
        #: carry the time they were written, not the time their transaction committed).
        self.arrived: dict[Any, float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for message in self._consumer.consume(1000, 0.1):
                if message.error() is None:
                    value = json.loads(message.value())
                    self.seen.append((message.timestamp()[1] / 1000, value.get("id")))
                    self.arrived.setdefault(value.get("id"), time.time())

    @property
    def count(self) -> int:
        return len(self.seen)

    def between(self, start: float, end: float) -> int:
        return sum(1 for ts, _ in list(self.seen) if start <= ts < end)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)
        self._consumer.close()


class Load(threading.Thread):
    """Keeps at most ``outstanding`` inputs not yet answered: the system never runs dry."""

    def __init__(
        self,
        topics: TopicClient,
        topic: str,
        keys: int,
        outputs: Outputs,
        outstanding: int,
        first: int = 0,
    ) -> None:
        super().__init__(daemon=True)
        self.topics, self.topic, self.keys, self.outputs = topics, topic, keys, outputs
        self.outstanding = outstanding
        self.first = first
        self.sent = 0
        self._answered_before = outputs.count
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            answered = self.outputs.count - self._answered_before
            room = self.outstanding - (self.sent - answered)
            if room < 100:
                time.sleep(0.01)
                continue
            batch = [event(self.first + self.sent + i, self.keys) for i in range(room)]
            self.topics.produce(self.topic, batch)
            self.sent += len(batch)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


def send_paced(
    topics: TopicClient, topic: str, first: int, count: int, rate: float, keys: int
) -> dict[Any, float]:
    """Send ``count`` events at ``rate`` per second; return each id's send time."""
    sent: dict[Any, float] = {}
    started = time.monotonic()
    for i in range(count):
        due = started + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        payload = event(first + i, keys)
        sent[payload["id"]] = time.time()
        topics.produce(topic, [payload])
    return sent


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class PeakMemory(threading.Thread):
    """Samples the summed RSS of some processes twice a second; keeps the peak."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.5):
            rss = 0
            for pid in self.pids:
                try:
                    rss += psutil.Process(pid).memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak = max(self.peak, rss)

    def stop(self) -> int:
        self._halt.set()
        self.join(5)
        return self.peak


def _with_children(pids: Iterable[int]) -> list[int]:
    found = []
    for pid in pids:
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        found += [pid, *(c.pid for c in children)]
    return found


#: Systems that run the flink-agents job with other settings: the name, and the settings.
RESULTS_LOG = {"flink-agents-results": {"FLINK_AGENTS_RUNTIME__EVENTS_LOG": "results"}}


@dataclass
class System:
    """A system under test: how to start it on a workload and which processes are its cost."""

    name: str
    settings: Settings
    stack: LocalStack
    logs: Path
    job_id: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    #: The job file and arguments of the last flink-agents job submitted.
    submitted: tuple[str, list[str]] | None = None
    #: The parallelism of the last job submitted (``runtime.parallelism``).
    parallelism: int = 1
    _jobs: ClusterJobs = field(init=False)

    def __post_init__(self) -> None:
        self._jobs = ClusterJobs(self.stack.flink)

    @property
    def pids(self) -> list[int]:
        """The system's processes and their children: a TaskManager's call processes, MCP
        servers and Python workers count as its cost."""
        roots = [self.proc.pid] if self.proc is not None else self.stack.flink.pids().values()
        return _with_children(roots)

    def start(
        self,
        workload: str,
        capacity: int,
        topic_in: str,
        topic_out: str,
        model_url: str,
        *,
        exactly_once: bool = False,
        parallelism: int = 1,
    ) -> None:
        app = f"bench-{uuid.uuid4().hex[:6]}"
        if parallelism != 1 and self.name != "flink-agents":
            raise ValueError(f"{self.name} runs at parallelism 1 in the benchmark")
        self.parallelism = parallelism
        if self.name in RESULTS_LOG or self.name == "flink-agents":
            args = [
                *(["--exactly-once"] if exactly_once else []),
                "--workload",
                workload,
                "--capacity",
                str(capacity),
                "--app",
                app,
                "--input",
                topic_in,
                "--output",
                topic_out,
                "--model-url",
                model_url,
            ]
            self._submit("bench/jobs/agent_job.py", args, RESULTS_LOG.get(self.name, {}))
        elif self.name == "flink-agents-sql":
            if exactly_once:
                raise ValueError("the SQL job of the benchmark writes at least once")
            self._submit(
                "bench/jobs/sql_job.py",
                [
                    *("--workload", workload, "--capacity", str(capacity), "--app", app),
                    *("--input", topic_in, "--output", topic_out, "--model-url", model_url),
                ],
            )
        elif self.name == "pass-through":
            self._submit(
                "bench/jobs/passthrough.py",
                ["--app", app, "--input", topic_in, "--output", topic_out],
            )
        else:
            log = (self.logs / f"{app}.log").open("wb")
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.asyncio_agent",
                    "--workload",
                    workload,
                    "--capacity",
                    str(capacity),
                    "--input",
                    topic_in,
                    "--output",
                    topic_out,
                    "--model-url",
                    model_url,
                    "--bootstrap",
                    self.settings.bootstrap_servers,
                    "--group",
                    app,
                    "--linger-ms",
                    str(self.settings.runtime.producer_linger_ms),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
            )
            assert self.proc.stdout is not None
            if not self.proc.stdout.readline().startswith(b"asyncio agent ready"):
                raise RuntimeError(f"the asyncio baseline did not start; see {log.name}")

    def stop(self) -> None:
        if self.job_id is not None:
            self._jobs.cancel(self.job_id)
            self._jobs.wait_gone(self.job_id)
            self.job_id = None
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def checkpointed_state_bytes(self, operator: str) -> int | None:
        """State of one operator in the latest completed checkpoint (full: heap backend)."""
        if self.job_id is None:
            return None
        flink = self.stack.flink
        stats = flink.rest(f"/jobs/{self.job_id}/checkpoints")
        latest = (stats.get("latest") or {}).get("completed")
        if not latest:
            return None
        details = flink.rest(f"/jobs/{self.job_id}/checkpoints/details/{latest['id']}")
        names = {v["id"]: v["name"] for v in flink.rest(f"/jobs/{self.job_id}")["vertices"]}
        for vertex_id, task in details["tasks"].items():
            if names.get(vertex_id, "").startswith(operator):
                return int(task.get("state_size") or task.get("checkpointed_size") or 0)
        return None

    def taskmanagers_of(self, operator: str) -> list[str]:
        """The TaskManagers the subtasks of ``operator`` run on, one entry per subtask."""
        if self.job_id is None:
            return []
        flink = self.stack.flink
        for vertex in flink.rest(f"/jobs/{self.job_id}")["vertices"]:
            if vertex["name"].startswith(operator):
                detail = flink.rest(f"/jobs/{self.job_id}/vertices/{vertex['id']}")
                return [str(s.get("taskmanager-id", s.get("host"))) for s in detail["subtasks"]]
        return []

    def latest_checkpoint_id(self) -> int:
        if self.job_id is None:
            return 0
        stats = self.stack.flink.rest(f"/jobs/{self.job_id}/checkpoints")
        latest = (stats.get("latest") or {}).get("completed") or {}
        return int(latest.get("id", 0))

    def _submit(self, script: str, args: list[str], settings: dict[str, str] | None = None) -> None:
        self.submitted = (script, args)
        env = {k: v for k, v in os.environ.items() if k.startswith("FLINK_AGENTS_")}
        env.update(settings or {})
        env["FLINK_AGENTS_RUNTIME__PARALLELISM"] = str(self.parallelism)
        self.job_id = self._jobs.submit(ROOT / script, args, env=env)
        self._jobs.wait_running(self.job_id)
