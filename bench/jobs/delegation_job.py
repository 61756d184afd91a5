"""Two apps for ``bench/delegation_latency.py``: an asker that delegates once, a reviewer.

``python bench/jobs/delegation_job.py asker|reviewer``; DELEGATION_PREFIX names the agents
and topics, MODEL_URL is the model simulator (each agent's model name is its role).
"""

from __future__ import annotations

import os
import sys

from pydantic import BaseModel

from flink_agents import Agent, AgentApp, Limits, OpenAIModel

PREFIX = os.environ.get("DELEGATION_PREFIX", "delegation")
LIMITS = Limits(call_timeout="10s", max_retries=1, backoff="50ms", peer_timeout="60s")


class Answer(BaseModel):
    answer: str


def agent(role: str, **spec: object) -> Agent:
    return Agent(
        name=f"{PREFIX}-{role}",
        instructions=f"You are the {role}.",
        model=OpenAIModel(model=role, base_url=os.environ["MODEL_URL"], timeout="10s"),
        output=Answer,
        limits=LIMITS,
        **spec,  # type: ignore[arg-type]
    )


def asker() -> AgentApp:
    app = AgentApp(f"{PREFIX}-askers")
    app.source(f"{PREFIX}.requests", key="k")
    spec = agent("asker", peers=[f"{PREFIX}-reviewer"])
    app.add(spec, inputs=f"{PREFIX}.requests", outputs=f"{PREFIX}.answers", carry=["id"])
    return app


def reviewer() -> AgentApp:
    app = AgentApp(f"{PREFIX}-reviewers")
    spec = agent("reviewer", callers=[f"{PREFIX}-asker"], description="Reviews a request.")
    app.add(spec, inputs=[], outputs=f"{PREFIX}.reviews")
    return app


if __name__ == "__main__":
    {"asker": asker, "reviewer": reviewer}[sys.argv[1]]().run()
