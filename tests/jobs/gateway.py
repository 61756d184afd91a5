"""An app for tests of the A2A gateway: an agent reached only through its inbox, shown in
the gateway, and a triage agent that reads a topic and asks it over Kafka.

``GATEWAY_PREFIX`` names the agents (inbox topics are named after agents, so each test run
gets its own); MODEL_URL is the model simulator, and each agent's model name is its role.
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
        show_in_gateway=True,  # the tasks triage asks for are shown, and answered, there
    )
    triage = Agent(
        name=f"{PREFIX}-triage",
        instructions="Ask the echo agent, then give its answer.",
        model=OpenAIModel(model="triage", base_url=os.environ["MODEL_URL"], timeout="120s"),
        limits=Limits(call_timeout="120s", max_retries=0, peer_timeout="600s"),
        peers=[echo.name],
    )
    built = AgentApp(f"{PREFIX}-app")
    built.source(f"{PREFIX}.cases", key="k")
    built.add(echo, inputs=[], outputs=f"{PREFIX}.answers")
    built.add(triage, inputs=f"{PREFIX}.cases", outputs=f"{PREFIX}.verdicts", carry=["id"])
    return built


if __name__ == "__main__":
    app().run()
