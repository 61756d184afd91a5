"""Fraud triage: one decision per card transaction, from memory of the card and MCP tools.

Reads ``transactions`` (keyed by ``card_id``), writes ``decisions``:
``{"transaction_id", "card_id", "decision": APPROVE|REVIEW|BLOCK, "reason", "escalation",
"task": {...}}``. Before it blocks, it escalates to ``compliance-review`` (another job,
jobs/compliance_review.py) over A2A; ``escalation`` holds the reviewer's verdict.

    python jobs/fraud_triage.py                     # a local MiniCluster
    flink run -d -py jobs/fraud_triage.py           # a Flink cluster (`make demo` does this)

The model is OpenAI's ``gpt-4o-mini`` when ``OPENAI_API_KEY`` is set, any OpenAI-compatible
server given by ``FRAUD_MODEL_BASE_URL`` (and ``FRAUD_MODEL``), or the model simulator that
``make demo`` starts when neither is set. The customer tools are an MCP server the job starts
over stdio, or the one at ``FRAUD_TOOLS_URL`` (streamable HTTP) when that is set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from flink_agents import Agent, AgentApp, Limits, McpServer, Memory, OpenAIModel

ROOT = Path(__file__).resolve().parent.parent

INSTRUCTIONS = """\
You triage card transactions for fraud. For each transaction decide:
- APPROVE: it fits the card's habits (amount, merchants, countries) and the merchant is sound;
- REVIEW: something is unusual (much larger than usual, a new country, several transactions
  within minutes, a merchant of medium risk) and a person should look;
- BLOCK: a high-risk merchant, or a large amount in a place new for the card.
Use the tools: customer_profile, recent_transactions and merchant_risk. Earlier transactions
of the same card are in this conversation. Give a one-sentence reason with the facts used.
Before you BLOCK, escalate to compliance-review with the facts, and put its verdict in
"escalation"."""


class Decision(BaseModel):
    decision: Literal["APPROVE", "REVIEW", "BLOCK"]
    reason: str = Field(description="One sentence naming the facts behind the decision.")
    escalation: str | None = Field(
        default=None, description="The compliance reviewer's verdict, when escalated."
    )


def model() -> OpenAIModel:
    base_url = os.environ.get("FRAUD_MODEL_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    return OpenAIModel(
        model=os.environ.get("FRAUD_MODEL", "gpt-4o-mini"),
        base_url=base_url or None,
        temperature=0,
        timeout="30s",
    )


def customer_tools() -> McpServer:
    tools = ["customer_profile", "recent_transactions", "merchant_risk"]
    url = os.environ.get("FRAUD_TOOLS_URL")
    if url:  # a running customer server over streamable HTTP (the compose deployment)
        return McpServer.http(url, allowed_tools=tools)
    database = os.environ.get("FRAUD_DB", str(ROOT / ".flink-agents" / "demo" / "fraud.db"))
    return McpServer.stdio(
        sys.executable,
        "-m",
        "jobs.tools.customer_server",
        "--transport",
        "stdio",
        "--db",
        str(Path(database).resolve()),
        cwd=str(ROOT),
        allowed_tools=tools,
    )


triage = Agent(
    name="fraud-triage",
    description="Decides APPROVE, REVIEW or BLOCK for card transactions.",
    instructions=INSTRUCTIONS,
    model=model(),
    tools=[customer_tools()],
    peers=["compliance-review"],
    memory=Memory(window=20, ttl="7d"),
    output=Decision,
    limits=Limits(max_steps=6, call_timeout="30s", max_in_flight=256),
)


def app() -> AgentApp:
    # Decisions are written in Kafka transactions: a read_committed consumer sees each once,
    # even after a TaskManager dies, one checkpoint after it was made.
    fraud = AgentApp("fraud-triage", exactly_once=True)
    fraud.source("transactions", key="card_id")
    fraud.add(triage, outputs="decisions", carry=["transaction_id", "card_id"])
    return fraud


if __name__ == "__main__":
    app().run()
