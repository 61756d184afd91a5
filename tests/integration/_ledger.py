"""Driving ``tests/jobs/ledger.py`` on the standalone cluster: its topics, its inputs, and
its outputs counted per input id."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flink_agents.local import ClusterJobs, FlinkCluster
from flink_agents.testing import Record, TopicClient

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "tests" / "jobs" / "ledger.py"
COMPLETED = "TASK_STATE_COMPLETED"
FAILED = "TASK_STATE_FAILED"


def inputs(first: int, count: int, keys: int = 4) -> list[dict[str, object]]:
    """Inputs ``first`` .. ``first + count - 1``, spread over ``keys`` keys in turn."""
    return [{"id": i, "key": f"k{i % keys}"} for i in range(first, first + count)]


@dataclass
class Ledger:
    """One ledger app: its topics on ``topics``' broker, its jobs on ``cluster``."""

    topics: TopicClient
    cluster: FlinkCluster
    env: dict[str, str]
    app: str = field(default_factory=lambda: TopicClient.unique("ledger"))

    def __post_init__(self) -> None:
        self.input = f"{self.app}.in"
        self.output = f"{self.app}.out"
        self.dead_letters = f"{self.app}.dlq"
        self.jobs = ClusterJobs(self.cluster)
        self.topics.create(self.input, self.output)

    def submit(
        self,
        model_url: str,
        *extra: str,
        savepoint: str | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Submit the job (``extra`` are more of its options); return its id once it runs."""
        args = ["--app", self.app, "--input", self.input, "--output", self.output]
        job_id = self.jobs.submit(
            JOB,
            [*args, "--model-url", model_url, *extra],
            savepoint=savepoint,
            env={**self.env, **(env or {})},
        )
        try:
            self.jobs.wait_running(job_id, timeout=300)
        except BaseException:
            self.jobs.cancel(job_id)
            raise
        return job_id

    def send(self, first: int, count: int) -> None:
        self.topics.produce(self.input, inputs(first, count), key=lambda r: str(r["key"]))

    def outputs(self, ids: range, topic: str | None = None, timeout: float = 120) -> list[Record]:
        """Read the outputs (``read_committed``) until each of ``ids`` has one; all of them."""
        wanted = set(ids)
        return self.topics.consume(
            topic or self.output,
            until=lambda rs: wanted <= {r.value["id"] for r in rs},
            timeout=timeout,
        )


def per_input(records: list[Record]) -> Counter[object]:
    """How many outputs each input id has (a set would hide a second one)."""
    return Counter(r.value["id"] for r in records)


def seen_by_key(records: list[Record]) -> dict[str, list[int]]:
    """Each key's ``seen`` answers in input order: 0, 1, 2, ... while its memory is whole."""
    ordered = sorted(records, key=lambda r: int(r.value["id"]))
    answers: dict[str, list[int]] = {}
    for record in ordered:
        answers.setdefault(str(record.value["key"]), []).append(int(record.value["seen"]))
    return answers
