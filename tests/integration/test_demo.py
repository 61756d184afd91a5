"""`make demo`'s job, on the local standalone cluster the fixtures started."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from flink_agents.local import FlinkCluster
from flink_agents.testing import TopicClient

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
    assert "180 tool calls, 120 model calls, 2 dead letters" in re.sub(
        r"\s+", " ", summary.group(1)
    )
    metrics = re.search(r"Flink metrics: modelCalls (\d+).* toolCalls (\d+)", done.stdout)
    assert metrics and metrics.groups() == ("120", "180")

    decisions = topics.consume("decisions", count=60)
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
    kinds = [line.split()[3] for line in done.stdout.splitlines() if line.strip()]
    assert kinds[:2] == ["task.accepted", "model.request"]
    assert kinds.count("tool.result") == 3 * kinds.count("task.completed")
    assert "task.completed" in kinds
    assert decisions[0].value["transaction_id"] in done.stdout
