"""Two apps whose agents delegate to each other over Kafka, for tests/integration/test_peers.py.

``python tests/jobs/peers.py callers`` runs the app of the agents that ask; ``... reviewers``
runs the app of the agent they ask. Agent names start with PEERS_PREFIX (inbox topics are
named after agents, so each test run gets its own); MODEL_URL is the model simulator, and
each agent's model name is its role, so the test's script answers per role. REMOTE_URL is
a remote A2A agent (an ``a2a-sdk`` server) that ``remoter`` asks over HTTP.
"""

from __future__ import annotations

import os
import sys

from pydantic import BaseModel

from flink_agents import Agent, AgentApp, Limits, OpenAIModel

PREFIX = os.environ.get("PEERS_PREFIX", "peers")
FAST = Limits(call_timeout="5s", max_retries=1, backoff="50ms", peer_timeout="60s")


class Answer(BaseModel):
    answer: str


class Verdict(BaseModel):
    verdict: str
    seen: str


def name(role: str) -> str:
    return f"{PREFIX}-{role}"


def agent(role: str, output: type[BaseModel], **spec: object) -> Agent:
    return Agent(
        name=name(role),
        instructions=f"You are the {role}.",
        model=OpenAIModel(model=role, base_url=os.environ["MODEL_URL"], timeout="5s"),
        output=output,
        limits=spec.pop("limits", FAST),  # type: ignore[arg-type]
        **spec,  # type: ignore[arg-type]
    )


def callers() -> AgentApp:
    app = AgentApp(f"{PREFIX}-callers")
    short = Limits(call_timeout="5s", max_retries=1, backoff="50ms", peer_timeout="3s")
    # The SQL reviewer's job may start after the question is asked: wait for it longer.
    patient = Limits(call_timeout="5s", max_retries=1, backoff="50ms", peer_timeout="300s")
    for role, spec in (
        ("asker", agent("asker", Answer, peers=[name("reviewer")])),
        ("sql-caller", agent("sql-caller", Answer, peers=[name("sql-reviewer")], limits=patient)),
        ("outsider", agent("outsider", Answer, peers=[name("reviewer")])),
        ("ghostly", agent("ghostly", Answer, peers=[name("ghost")], limits=short)),
        ("remoter", agent("remoter", Answer, peers=[os.environ["REMOTE_URL"]])),
    ):
        app.source(f"{PREFIX}.requests.{role}", key="k")
        app.add(spec, inputs=f"{PREFIX}.requests.{role}", outputs=f"{PREFIX}.answers", carry=["id"])
    return app


def reviewers() -> AgentApp:
    app = AgentApp(f"{PREFIX}-reviewers")
    reviewer = agent(
        "reviewer",
        Verdict,
        callers=[name("asker"), name("sql-asker")],  # sql-asker: tests/integration/test_peers.py
        description="Gives a verdict on a request.",
    )
    app.add(reviewer, inputs=[], outputs=f"{PREFIX}.reviews")
    return app


if __name__ == "__main__":
    {"callers": callers, "reviewers": reviewers}[sys.argv[1]]().run()
