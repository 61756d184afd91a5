"""run_agent on the demo's fraud-triage agent: its real MCP server over stdio, no Kafka or Flink."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from flink_agents import Agent
from flink_agents.testing import run_agent
from jobs import fraud_model, fraud_triage
from jobs.tools.fraud_data import ensure_database, sample_transactions

pytestmark = pytest.mark.integration

TRANSACTIONS = sample_transactions(12)
CARRY = ["transaction_id", "card_id"]


@pytest.fixture(scope="module")
def triage(tmp_path_factory: pytest.TempPathFactory) -> Agent:
    """The demo agent with its customer server reading a database built for this test."""
    database = ensure_database(tmp_path_factory.mktemp("fraud") / "fraud.db")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FRAUD_DB", str(database))
        tools = fraud_triage.customer_tools()
    # run_agent runs one agent in-process; the escalation to compliance-review goes over
    # Kafka and is tested with both jobs running (test_demo, test_peers).
    return fraud_triage.triage.model_copy(update={"tools": (tools,), "peers": ()})


def test_demo_agent_with_the_default_model_calls_each_tool_once_and_answers_validly(
    triage: Agent,
):
    run = run_agent(triage, TRANSACTIONS[:3], key="card_id", carry=CARRY)

    for transaction, output in zip(TRANSACTIONS, run.outputs, strict=False):
        assert output["transaction_id"] == transaction["transaction_id"]
        assert output["card_id"] == transaction["card_id"]
        assert output["task"]["state"] == "TASK_STATE_COMPLETED", output
        fraud_triage.Decision.model_validate(
            {"decision": output["decision"], "reason": output["reason"]}
        )
    tools = Counter(r.tool for r in run.tool_results)
    assert tools == {"customer_profile": 3, "recent_transactions": 3, "merchant_risk": 3}
    # Arguments made from the tools' schemas pass their validation; the server may still
    # not know the made-up ids, which the model sees as the tool's answer.
    assert not [r.content for r in run.tool_results if "validation error" in r.content.lower()]
    assert run.model_calls == 6


def test_demo_agent_with_the_demo_script_decides_like_the_job(triage: Agent):
    started = time.monotonic()
    run = run_agent(triage, TRANSACTIONS, key="card_id", carry=CARRY, model=fraud_model.script)
    seconds = time.monotonic() - started

    assert [o["transaction_id"] for o in run.outputs] == [t["transaction_id"] for t in TRANSACTIONS]
    assert all(o["task"]["state"] == "TASK_STATE_COMPLETED" for o in run.outputs)
    assert {o["decision"] for o in run.outputs} <= {"APPROVE", "REVIEW", "BLOCK"}
    # As in `make demo`: three tool calls and two model calls per transaction.
    assert len(run.tool_results) == 3 * len(TRANSACTIONS)
    assert not any(r.is_error for r in run.tool_results)
    assert run.model_calls == 2 * len(TRANSACTIONS)
    # The script's decision is the policy's, applied to what the tools returned.
    first = run.steps(0)
    results = {e.tool: e.content for e in first if e.kind == "tool.result"}  # type: ignore[union-attr]
    assert set(results) == {"customer_profile", "recent_transactions", "merchant_risk"}
    print(f"run_agent: {len(TRANSACTIONS)} transactions in {seconds:.2f} s")
