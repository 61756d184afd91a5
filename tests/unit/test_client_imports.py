"""The client that builds a job loads no model or MCP client library, and the command line
no SQL front: only the TaskManagers run calls, and every submission pays for the imports
of the command and of the job file."""

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


def test_the_command_line_starts_without_the_sql_front_or_the_client_libraries():
    probe = (
        "import json, sys, flink_agents.cli; print(json.dumps(sorted(m for m in "
        "('flink_agents.sql', 'sqlglot', 'openai', 'mcp') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_a_module_that_takes_the_simulators_scripts_loads_no_client_or_local_stack():
    """An agent's module is imported again in each call process, as a job starts."""
    probe = (
        "import json, sys\n"
        "from flink_agents.testing import ChatRequest, Reply, ToolCall\n"
        "print(json.dumps(sorted(m for m in ('confluent_kafka', 'flink_agents.local', "
        "'openai', 'mcp', 'pyflink') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
