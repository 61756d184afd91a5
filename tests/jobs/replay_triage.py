"""A small triage agent for the replay tests: one Python tool, then a decision.

Run: ``python tests/jobs/replay_triage.py`` with REPLAY_APP, REPLAY_INPUT, REPLAY_OUTPUT and
MODEL_URL in the environment. ``replay_triage_strict.py`` is the same job with another
prompt: the changed job file of a what-if replay.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel

from flink_agents import Agent, AgentApp, Limits, OpenAIModel, tool

INSTRUCTIONS = "Decide APPROVE or BLOCK for each payment; look up its risk first."


class Decision(BaseModel):
    decision: Literal["APPROVE", "BLOCK"]
    risk: int


@tool
def risk(amount: int) -> int:
    """The payment's risk score: a tenth of its amount."""
    return amount // 10


def app(instructions: str = INSTRUCTIONS) -> AgentApp:
    triage = Agent(
        name="triage",
        instructions=instructions,
        model=OpenAIModel(model="sim", base_url=os.environ["MODEL_URL"], api_key_env="SIM_API_KEY"),
        tools=[risk],
        output=Decision,
        limits=Limits(call_timeout="10s", max_retries=2, backoff="50ms"),
    )
    built = AgentApp(os.environ["REPLAY_APP"])
    built.source(os.environ["REPLAY_INPUT"], key="k")
    built.add(triage, outputs=os.environ["REPLAY_OUTPUT"], carry=["id"])
    return built


if __name__ == "__main__":
    app().run()
