"""Compliance review: a second agent, in its own job, that fraud-triage escalates to over A2A.

It reads no topic of its own: requests arrive in its A2A inbox (``a2a.inbox.compliance-review``)
from ``fraud-triage``, the only caller it accepts. Each review is written to
``compliance-reviews`` and answered to the caller, whose decision records it.

    python jobs/compliance_review.py                 # a local MiniCluster
    flink run -d -py jobs/compliance_review.py       # a Flink cluster (`make demo` does this)
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field

from flink_agents import Agent, AgentApp, Limits, OpenAIModel

INSTRUCTIONS = """\
You are the compliance reviewer. Fraud triage escalates transactions it wants to block.
Confirm the block when the facts given support it; release the payment when they do not.
Answer with the verdict and one sentence naming the facts."""


def model() -> OpenAIModel:
    """The same endpoint as fraud-triage's (see jobs/fraud_triage.py)."""
    base_url = os.environ.get("FRAUD_MODEL_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    return OpenAIModel(
        model=os.environ.get("FRAUD_MODEL", "gpt-4o-mini"),
        base_url=base_url or None,
        temperature=0,
        timeout="30s",
    )


class Review(BaseModel):
    verdict: Literal["CONFIRM_BLOCK", "RELEASE"]
    reason: str = Field(description="One sentence naming the facts behind the verdict.")


reviewer = Agent(
    name="compliance-review",
    description="Reviews transactions that fraud triage wants to block: confirms or releases.",
    instructions=INSTRUCTIONS,
    model=model(),
    output=Review,
    # fraud-triage escalates over Kafka; a person asks through `flink-agents a2a serve`.
    callers=["fraud-triage", "a2a-gateway"],
    # The escalations fraud-triage sends are shown in the gateway too: a person watches them.
    show_in_gateway=True,
    limits=Limits(max_steps=3, call_timeout="30s"),
)


def app() -> AgentApp:
    review = AgentApp("compliance-review")
    review.add(reviewer, inputs=[], outputs="compliance-reviews")
    return review


if __name__ == "__main__":
    app().run()
