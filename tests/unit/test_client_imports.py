"""The client that builds a job loads no model or MCP client library: only the
TaskManagers run calls, and every submission pays for the client's imports."""

from __future__ import annotations

import json
import subprocess
import sys

_BUILD = """
import json, sys
from flink_agents import Agent, AgentApp, McpServer, OpenAIModel
from flink_agents.config import load_settings

app = AgentApp("fraud", settings=load_settings(file=None), create_topics=False)
app.source("transactions", key="card_id")
app.add(
    Agent(
        name="triage",
        instructions="Decide.",
        model=OpenAIModel(model="m"),
        tools=[McpServer.http("http://127.0.0.1:9/mcp", name="db")],
    ),
    outputs="decisions",
)
app.build()
print(json.dumps(sorted(m for m in ("openai", "mcp", "httpx") if m in sys.modules)))
"""


def test_building_a_job_loads_neither_the_model_nor_the_mcp_client():
    done = subprocess.run(
        [sys.executable, "-c", _BUILD], capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
