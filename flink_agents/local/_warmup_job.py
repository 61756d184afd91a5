"""The warm-up's agent job: built like the jobs users submit (Kafka sources with the routing
SQL, keyed in Java, the keyed agent function, the Kafka sinks), on topics of its own.

The warm-up (``_warmup.py``) builds it in the warm client a few times, and submits it once,
through the client as ``submit`` submits a job file, so that the first job a user submits
after ``flink-agents local up`` finds the JobManager's and the TaskManagers' code paths
loaded: in thread mode a TaskManager runs Python inside its JVM, and the first job to open
``AgentStep`` there pays for starting that interpreter and importing PyFlink's worker side,
the runtime, the model client and the MCP SDK (7.7 s of a first submission's 26.8 s on a
2-core machine, against 0.6 s for the next job). The interpreter and its modules outlive
the job. The warm-up cancels the job once every task runs, and deletes its topics.

Run as ``python -m flink_agents.local._warmup_job SETTINGS_JSON TASKMANAGERS`` against the
warm client. It answers nothing: no input is written to its topic, and its model's address
is one nothing listens on.
"""

from __future__ import annotations

import sys

from flink_agents.config import ReplaySettings, Settings
from flink_agents.runtime import AgentApp

#: The job's name, as `flink-agents jobs` lists it; its topics start with it.
NAME = "flink-agents-warm-up"
INPUT = f"{NAME}.in"
OUTPUT = f"{NAME}.out"


def app(settings: Settings, create_topics: bool = False, taskmanagers: int = 1) -> AgentApp:
    """The warm-up's agent app, with one AgentStep subtask per TaskManager (so that each one
    opens it); with ``create_topics`` off, building it touches no topic."""
    from flink_agents import Agent, OpenAIModel, tool

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
    # One subtask per TaskManager, whatever the user's jobs run at (a parallelism above the
    # free slots would leave the warm-up waiting), and never as part of a replay.
    runtime = settings.runtime.model_copy(update={"parallelism": max(1, taskmanagers)})
    settings = settings.model_copy(update={"runtime": runtime, "replay": ReplaySettings()})
    built = AgentApp(NAME, settings=settings, create_topics=create_topics)
    built.source(INPUT, key="key")
    built.add(agent, outputs=OUTPUT)
    return built


def main(argv: list[str]) -> int:
    settings = Settings.model_validate_json(argv[0])
    app(settings, create_topics=True, taskmanagers=int(argv[1])).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
