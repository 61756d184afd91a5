"""sql/fraud_triage.sql against jobs/fraud_triage.py: the same transactions, the same model
simulator and MCP tool server, and the same decisions, one per transaction."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from flink_agents.testing import ModelServer
from flink_agents.testing._jobs import JobProcess
from flink_agents.testing._kafka import Record, TopicClient
from jobs import fraud_model
from jobs.tools.fraud_data import ensure_database, sample_transactions

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("flink-agents")
TRANSACTIONS = 16


@pytest.fixture(scope="module")
def sim() -> Iterator[ModelServer]:
    with ModelServer(fraud_model.script) as server:
        yield server


def _by_transaction(records: list[Record]) -> dict[str, dict[str, object]]:
    counts = Counter(r.value["transaction_id"] for r in records)
    assert set(counts.values()) == {1}, f"not one decision per transaction: {counts}"
    return {r.value["transaction_id"]: r.value for r in records}


def test_sql_agent_decides_every_transaction_as_the_python_agent_does(
    topics: TopicClient,
    sim: ModelServer,
    job_env: dict[str, str],
    tmp_path: Path,
):
    prefix = topics.unique("fraud")
    source, py_out, sql_out = (f"{prefix}.{n}" for n in ("tx", "py-decisions", "sql-decisions"))
    topics.create(source, py_out, sql_out)
    env = {k: v for k, v in job_env.items() if k not in ("OPENAI_API_KEY", "FRAUD_MODEL_BASE_URL")}
    env |= {
        "FRAUD_MODEL_BASE_URL": sim.base_url,
        "FRAUD_DB": str(ensure_database(tmp_path / "fraud.db")),
        "FRAUD_TRANSACTIONS_TOPIC": source,
    }
    jobs = [
        JobProcess(
            ROOT / "tests/jobs/fraud_python.py",
            [],
            env | {"FRAUD_APP": f"{prefix}-py", "FRAUD_DECISIONS_TOPIC": py_out},
            tmp_path / "python.log",
        ),
        JobProcess(
            CLI,
            ["sql", "run", str(ROOT / "sql/fraud_triage.sql"), "--name", f"{prefix}-sql"],
            env | {"FRAUD_DECISIONS_TOPIC": sql_out},
            tmp_path / "sql.log",
        ),
    ]
    try:
        for job in jobs:
            job.start()
        transactions = sample_transactions(TRANSACTIONS)
        topics.produce(source, transactions, key=lambda t: t["card_id"])
        python = _by_transaction(topics.consume(py_out, count=TRANSACTIONS, timeout=900))
        sql = _by_transaction(topics.consume(sql_out, count=TRANSACTIONS, timeout=900))
    except TimeoutError as exc:
        logs = "\n".join(f"--- {job.log.name}\n{job.tail()}" for job in jobs)
        raise AssertionError(f"{exc}\n{logs}") from None
    finally:
        for job in jobs:
            job.stop()

    assert set(sql) == {t["transaction_id"] for t in transactions}
    assert {i: (d["decision"], d["reason"]) for i, d in sql.items()} == {
        i: (d["decision"], d["reason"]) for i, d in python.items()
    }
    assert {d["status"] for d in sql.values()} == {"TASK_STATE_COMPLETED"}
    assert all(sql[i]["card_id"] == python[i]["card_id"] for i in sql)
    assert len({d["decision"] for d in sql.values()}) > 1, "one decision for all: a weak test"
