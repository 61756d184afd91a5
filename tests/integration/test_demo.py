"""`make demo`'s job, on the local standalone cluster the fixtures started."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from flink_agents.local import FlinkCluster
from flink_agents.testing._kafka import TopicClient

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
ROOT = Path(__file__).resolve().parents[2]


def test_demo_decides_every_transaction_and_reports_its_counts(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    done = subprocess.run(
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
