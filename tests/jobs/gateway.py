"""An app whose one agent is reached only through its inbox, for tests of the A2A gateway.

``GATEWAY_PREFIX`` names the agent (inbox topics are named after agents, so each test run
gets its own); MODEL_URL is the model simulator.
"""

from __future__ import annotations

import os

from flink_agents import Agent, AgentApp, Limits, OpenAIModel

PREFIX = os.environ.get("GATEWAY_PREFIX", "gateway")


def app() -> AgentApp:
    echo = Agent(
        name=f"{PREFIX}-echo",
        description="Answers what it is told.",
        instructions="Repeat the request.",
        model=OpenAIModel(model="echo", base_url=os.environ["MODEL_URL"], timeout="120s"),
        limits=Limits(call_timeout="120s", max_retries=0),
        callers=["*"],
        human_input=True,
    )
    built = AgentApp(f"{PREFIX}-app")
    built.add(echo, inputs=[], outputs=f"{PREFIX}.answers")
    return built


if __name__ == "__main__":
    app().run()
