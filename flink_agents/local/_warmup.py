"""Warm the local stack's warm client: build, without running, a job like the ones users
submit, so that the first real submission finds the planner's classes loaded and compiled.

Run by the warm client as ``python -m flink_agents.local._warmup SETTINGS_JSON`` with
``PYFLINK_GATEWAY_PORT`` set; it holds the client's lock while it builds, so a submission
made meanwhile waits for it instead of sharing the gateway. Nothing is created on Kafka and
nothing is submitted. The job is built a few times: the JVM compiles the planner's hot code
only after it ran a while (on a 2-core machine the first build took 4.7 s in the client, the
third under 2 s).
"""

from __future__ import annotations

import sys
import time

from flink_agents.config import Settings
from flink_agents.errors import StackError
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


#: How many times the warm-up builds the job.
BUILDS = 3
#: A pause between builds, longer than a waiting submission's poll of the lock (50 ms).
_GIVE_WAY_S = 0.2


def main(argv: list[str]) -> int:
    settings = Settings.model_validate_json(argv[0])
    client = WarmClient(settings)
    for build in range(BUILDS):
        started = time.monotonic()
        try:
            # The first build waits for the client; later ones give way to a submission
            # that waits for it (which warms the client as well).
            with client.held(settings.cluster.submit_timeout_s if build == 0 else 0.0):
                representative_job(settings)
        except StackError:
            print("warm client: a submission came first; warm-up ends", flush=True)
            break
        took = time.monotonic() - started
        print(f"warm client: warm-up build {build + 1} took {took:.1f}s", flush=True)
        time.sleep(_GIVE_WAY_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
