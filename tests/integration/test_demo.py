"""`make demo`'s job, on the local standalone cluster the fixtures started."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from flink_agents.local import FlinkCluster, free_port
from flink_agents.testing import TopicClient, stop_process
from tests.support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(flink_cluster: FlinkCluster, job_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One run of the demo on the fixtures' stack (it finds the stack up and leaves it up)."""
    return subprocess.run(
        [sys.executable, "-m", "jobs.demo", "--transactions", "60"],
        cwd=ROOT,
        env={
            k: v for k, v in job_env.items() if k not in ("OPENAI_API_KEY", "FRAUD_MODEL_BASE_URL")
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_demo_decides_every_transaction_and_reports_its_counts(
    demo: subprocess.CompletedProcess[str], flink_cluster: FlinkCluster, topics: TopicClient
):
    done = demo
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = re.search(r"demo ok: (.*)", done.stdout.replace("\n", " "))
    assert summary, done.stdout[-2000:]
    assert re.search(r"60 transactions, 60 decisions \(APPROVE \d+", summary.group(1))
    decisions = topics.consume("decisions", count=60)
    blocks = [d.value for d in decisions if d.value["decision"] == "BLOCK"]
    assert blocks, "the sample has blocks, each escalated"
    assert all(b["escalation"] in ("CONFIRM_BLOCK", "RELEASE") for b in blocks)
    # Each block took one more model call: the one after the reviewer's answer.
    counts = re.sub(r"\s+", " ", summary.group(1))
    model_calls = 120 + len(blocks)
    assert (
        f"180 tool calls, {model_calls} model calls, {len(blocks)} escalations, "
        f"{len(blocks)} replies"
    ) in counts
    assert ", 2 dead letters" in counts
    reviews = topics.consume("compliance-reviews", count=len(blocks))
    assert len(reviews) == len(blocks)
    metrics = re.search(r"Flink metrics: modelCalls (\d+).* toolCalls (\d+)", done.stdout)
    assert metrics and metrics.groups() == (str(model_calls), "180")

    assert {d.value["decision"] for d in decisions} <= {"APPROVE", "REVIEW", "BLOCK"}
    assert all(d.value["transaction_id"].startswith("tx-") and d.value["reason"] for d in decisions)
    assert flink_cluster.status().running  # the demo left the stack it found running


def test_trace_prints_a_conversation_step_by_step(
    demo: subprocess.CompletedProcess[str], topics: TopicClient, job_env: dict[str, str]
):
    assert demo.returncode == 0
    decisions = topics.consume("decisions", count=1)
    conversation = decisions[0].value["task"]["context_id"]
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("flink-agents")),
            "trace",
            "fraud-triage",
            conversation,
        ],
        env=job_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Lines of a peer's task (an escalation) are indented: count the triage task's own.
    kinds = [line.split()[3] for line in done.stdout.splitlines() if line[:1].strip()]
    assert kinds[:2] == ["task.accepted", "model.request"]
    assert kinds.count("tool.result") == 3 * kinds.count("task.completed")
    assert "task.completed" in kinds
    assert decisions[0].value["transaction_id"] in done.stdout


def test_the_gateway_shows_each_escalation_with_the_reviewers_verdict(
    demo: subprocess.CompletedProcess[str], topics: TopicClient, job_env: dict[str, str]
):
    """The reviews fraud-triage asked for over Kafka are tasks any A2A client can read."""
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    decisions = [d.value for d in topics.consume("decisions", count=60)]
    verdicts = Counter(d["escalation"] for d in decisions if d["decision"] == "BLOCK")
    port = free_port()
    url = f"http://127.0.0.1:{port}/agents/compliance-review"
    env = {**job_env, "FLINK_AGENTS_GATEWAY__PORT": str(port)}
    gateway = subprocess.Popen(
        [str(Path(sys.executable).with_name("flink-agents")), "a2a", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    shown: list[dict[str, Any]] = []

    def every_review_shown() -> bool:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "ListTasks",
            "params": {"pageSize": 100, "includeArtifacts": True},
        }
        try:
            reply = httpx.post(url, json=body, headers={"A2A-Version": "1.0"}, timeout=10)
        except httpx.HTTPError:
            return False
        tasks = reply.json().get("result", {}).get("tasks", [])
        shown[:] = [t for t in tasks if t["metadata"].get("requester") == "fraud-triage"]
        return sum(verdicts.values()) <= len(shown) and all(
            t["status"]["state"] == "TASK_STATE_COMPLETED" for t in shown
        )

    try:
        eventually(every_review_shown, "the gateway shows every escalation", timeout=180)
    finally:
        stop_process(gateway)
    # One task per escalation (a count: a set would hide a review shown twice), each with
    # the transaction it reviewed and the verdict the decision recorded.
    bare = [t for t in shown if not t.get("artifacts")]
    assert not bare, f"completed without the review: {bare}"
    assert Counter(t["artifacts"][0]["parts"][0]["data"]["verdict"] for t in shown) == verdicts
    reviewed = Counter(
        re.search(r"tx-\d+", t["history"][0]["parts"][0]["text"]).group() for t in shown
    )
    assert set(reviewed.values()) == {1}
    assert set(reviewed) == {d["transaction_id"] for d in decisions if d["decision"] == "BLOCK"}
