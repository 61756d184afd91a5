"""`make demo`: the fraud-triage job end to end on the local stack.

Starts Kafka and Flink (unless they already run), the model simulator (unless a real model
is configured), submits jobs/compliance_review.py and jobs/fraud_triage.py to the cluster,
sends sample transactions, shows the decisions as they arrive (fraud-triage escalates each
block to compliance-review over A2A), and ends with one line that starts ``demo ok:``.
Everything it started is stopped at the end; ``--keep`` leaves the stack up.

    python -m jobs.demo [--transactions 300] [--latency-ms 25] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from flink_agents.a2a import inbox_topic
from flink_agents.config import Settings, load_settings
from flink_agents.errors import FlinkAgentsError
from flink_agents.local import ClusterJobs, LocalStack
from flink_agents.testing import Record, TopicClient, stop_process
from flink_agents.testing.model_server import spawn
from jobs.tools.fraud_data import ensure_database, sample_transactions

ROOT = Path(__file__).resolve().parent.parent
APP = "fraud-triage"
REVIEW_APP = "compliance-review"
TOPICS = (
    "transactions",
    "decisions",
    f"{APP}.events",
    f"{APP}.dlq",
    "compliance-reviews",
    f"{REVIEW_APP}.events",
    f"{REVIEW_APP}.dlq",
    inbox_topic(REVIEW_APP),
)
COLOURS = {"APPROVE": "green", "REVIEW": "yellow", "BLOCK": "red"}

console = Console(soft_wrap=True)  # the summary line stays one line when piped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=25.0, help="simulated model latency")
    parser.add_argument("--keep", action="store_true", help="leave Kafka and Flink running")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    settings = load_settings()
    with ExitStack() as cleanup:
        try:
            stack = cleanup.enter_context(local_stack(settings, keep=args.keep))
            model_env = cleanup.enter_context(model_endpoint(args.latency_ms))
            summary = run(settings, stack, model_env, args, cleanup)
        except (FlinkAgentsError, RuntimeError, TimeoutError, OSError) as exc:
            console.print(f"[red]demo failed:[/red] {exc}")
            return 1
    seconds = time.monotonic() - started
    console.print(f"demo ok: {summary}, {seconds:.1f} s")
    return 0


def run(
    settings: Settings, stack: LocalStack, model_env: dict[str, str], args: Any, cleanup: ExitStack
) -> str:
    database = ensure_database((settings.home / "demo" / "fraud.db").resolve())
    topics = TopicClient(settings.bootstrap_servers)
    reset_topics(topics)
    jobs = ClusterJobs(stack.flink)
    env = {**model_env, "FRAUD_DB": str(database)}
    console.print("submitting jobs/compliance_review.py and jobs/fraud_triage.py to Flink")
    review_id = jobs.submit(ROOT / "jobs" / "compliance_review.py", env=env)
    cleanup.callback(stop_job, jobs, review_id)
    job_id = jobs.submit(ROOT / "jobs" / "fraud_triage.py", env=env)
    cleanup.callback(stop_job, jobs, job_id)
    jobs.wait_running(review_id)
    jobs.wait_running(job_id)
    transactions = sample_transactions(args.transactions)
    topics.produce("transactions", transactions, key=lambda t: t["card_id"])
    topics.produce("transactions", ['{"card_id": "card-0001", "amount": ', '{"amount": 3}'])
    console.print(f"sent {len(transactions)} transactions and 2 malformed records")
    decisions = watch(topics, transactions, args.timeout)
    calls = count_calls(topics, {d.value["task"]["id"] for d in decisions})
    metrics = flink_metrics(jobs, job_id, calls)
    console.print(
        "Flink metrics: "
        + ", ".join(f"{name} {int(value)}" for name, value in sorted(metrics.items()))
    )
    kinds = Counter(d.value.get("decision", "FAILED") for d in decisions)
    dead = topics.consume(f"{APP}.dlq", count=2, timeout=30)
    order = ("APPROVE", "REVIEW", "BLOCK", "FAILED")
    by_kind = ", ".join(f"{k} {kinds[k]}" for k in order if kinds[k])
    verdicts = Counter(d.value["escalation"] for d in decisions if d.value.get("escalation"))
    answered = ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items()))
    return (
        f"{len(transactions)} transactions, {len(decisions)} decisions ({by_kind}), "
        f"{calls['tool.result']} tool calls, {calls['model.response']} model calls, "
        f"{calls['a2a.request']} escalations, {calls['a2a.answered']} replies"
        f"{f' ({answered})' if answered else ''}, "
        f"{len(dead)} dead letters"
    )


@contextmanager
def local_stack(settings: Settings, keep: bool) -> Iterator[LocalStack]:
    """The local stack: started here unless it already runs; stopped if started here."""
    stack = LocalStack(settings)
    was_up = all(part.running for part in stack.status())
    if not was_up:
        cli = str(Path(sys.executable).with_name("flink-agents"))
        done = subprocess.run([cli, "local", "up"], check=False)
        if done.returncode != 0:
            raise RuntimeError("`flink-agents local up` failed (its message is above)")
    try:
        yield stack
    finally:
        if not (keep or was_up):
            stack.down()
            console.print("local stack stopped")


@contextmanager
def model_endpoint(latency_ms: float) -> Iterator[dict[str, str]]:
    """Environment for the job's model: a real one if configured, else the simulator."""
    configured = ("OPENAI_API_KEY", "FRAUD_MODEL_BASE_URL", "OPENAI_BASE_URL")
    if any(os.environ.get(name) for name in configured):
        console.print("model: the configured OpenAI-compatible endpoint")
        yield {}
        return
    proc, url = spawn(
        "--script", "jobs.fraud_model:script", "--latency-ms", str(latency_ms), cwd=ROOT
    )
    try:
        console.print(f"model: the simulator at {url} ({latency_ms:g} ms per call)")
        yield {"FRAUD_MODEL_BASE_URL": url, "FRAUD_MODEL": "sim-1"}
    finally:
        stop_process(proc)


def reset_topics(topics: TopicClient) -> None:
    """Start from empty topics and no committed offsets, so each demo run stands alone."""
    topics.delete(*TOPICS)
    topics.delete_groups(f"flink-agents.{APP}", f"flink-agents.{REVIEW_APP}")
    topics.create(*TOPICS)


class DecisionBoard:
    """Keeps the latest decision per transaction and draws them as a table."""

    def __init__(self, transactions: list[dict[str, Any]]) -> None:
        self.wanted = {t["transaction_id"]: t for t in transactions}
        self.seen: dict[str, Record] = {}
        self._read = 0

    def add(self, records: list[Record]) -> bool:
        """Take the records not seen yet; True once every transaction has its decision."""
        for record in records[self._read :]:
            if record.value.get("transaction_id") in self.wanted:
                self.seen[record.value["transaction_id"]] = record
        self._read = len(records)
        return len(self.seen) >= len(self.wanted)

    def table(self) -> Table:
        counts = Counter(r.value.get("decision", "FAILED") for r in self.seen.values())
        title = f"decisions {len(self.seen)}/{len(self.wanted)}  " + "  ".join(
            f"{k} {v}" for k, v in sorted(counts.items())
        )
        view = Table(title=title, expand=True)
        for column in ("transaction", "card", "amount", "decision", "reason"):
            view.add_column(column, overflow="fold")
        for record in list(self.seen.values())[-12:]:
            d = record.value
            decision = d.get("decision", "FAILED")
            amount = self.wanted.get(d.get("transaction_id"), {}).get("amount", 0)
            view.add_row(
                d.get("transaction_id", "?"),
                d.get("card_id", "?"),
                f"{amount:.2f}",
                f"[{COLOURS.get(decision, 'magenta')}]{decision}[/]",
                d.get("reason") or d.get("task", {}).get("error", ""),
            )
        return view


def watch(topics: TopicClient, transactions: list[dict[str, Any]], timeout: float) -> list[Record]:
    """Show decisions as they arrive until there is one per transaction."""
    board = DecisionBoard(transactions)
    with Live(board.table(), console=console, refresh_per_second=4) as live:

        def progress(records: list[Record]) -> bool:
            complete = board.add(records)
            live.update(board.table())
            return complete

        topics.consume("decisions", until=progress, timeout=timeout)
    console.print()
    return list(board.seen.values())


def count_calls(topics: TopicClient, task_ids: set[str]) -> Counter[str]:
    """Model and tool calls of these tasks, counted from the agent events log."""
    counts: Counter[str] = Counter()
    read = 0

    def tally(events: list[dict[str, Any]]) -> bool:
        nonlocal read
        for event in events[read:]:
            if event.get("task_id") in task_ids:
                counts[event["kind"]] += 1
        read = len(events)
        return counts["task.completed"] + counts["task.failed"] >= len(task_ids)

    topics.events(f"{APP}.events", until=tally, timeout=120)
    return counts


def flink_metrics(jobs: ClusterJobs, job_id: str, calls: Counter[str]) -> dict[str, float]:
    """The agent's metrics from the Flink REST API, once they have caught up with the log."""
    names = ("modelCalls", "toolCalls", "tokensIn", "tokensOut")
    deadline = time.monotonic() + 20

    def behind(metrics: dict[str, float]) -> bool:
        return (
            metrics["modelCalls"] < calls["model.response"]
            or metrics["toolCalls"] < calls["tool.result"]
        )

    metrics = jobs.metrics(job_id, names)
    while behind(metrics) and time.monotonic() < deadline:
        time.sleep(0.5)  # the REST API refreshes metrics every 2 s
        metrics = jobs.metrics(job_id, names)
    return metrics


def stop_job(jobs: ClusterJobs, job_id: str) -> None:
    jobs.cancel(job_id)
    jobs.wait_gone(job_id)
    console.print(f"job {job_id} stopped")


if __name__ == "__main__":
    sys.exit(main())
