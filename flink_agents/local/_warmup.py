"""Warm the local stack's warm client: build, without running, a job like the ones users
submit, so that the first real submission finds the planner's classes loaded and compiled.

Run by the warm client as ``python -m flink_agents.local._warmup SETTINGS_JSON`` with
``PYFLINK_GATEWAY_PORT`` set; it holds the client's lock while it builds, so a submission
made meanwhile waits for it instead of sharing the gateway. Nothing is created on Kafka and
nothing is submitted.
"""

from __future__ import annotations

import sys
import time

from flink_agents.config import Settings
from flink_agents.local._warm import WarmClient


def representative_job(settings: Settings) -> str:
    """Build an agent app the way a job file does (Kafka sources with the routing SQL,
    ``key_by``, the keyed agent function, the Kafka sinks) and return its execution plan."""
    from flink_agents import Agent, AgentApp, OpenAIModel, tool

    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        return key

    agent = Agent(
        name="warm-up",
        instructions="Answer.",
        model=OpenAIModel(model="warm-up", base_url="http://127.0.0.1:9/v1"),
        tools=[lookup],
    )
    app = AgentApp("flink-agents-warm-up", settings=settings, create_topics=False)
    app.source("flink-agents-warm-up.in", key="key")
    app.add(agent, outputs="flink-agents-warm-up.out")
    plan: str = app.build().get_execution_plan()
    return plan


def main(argv: list[str]) -> int:
    settings = Settings.model_validate_json(argv[0])
    client = WarmClient(settings)
    started = time.monotonic()
    with client.held(settings.startup_timeout_s):
        representative_job(settings)
    print(f"warm client: warmed up in {time.monotonic() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
