"""The client that builds a job loads no model or MCP client library, and the command line
no SQL front: only the TaskManagers run calls, and every submission pays for the imports
of the command and of the job file."""

from __future__ import annotations

import json
import subprocess
import sys

_BUILD = """
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
"""


def loaded(code: str, modules: tuple[str, ...], timeout: float = 120) -> list[str]:
    """Which of ``modules`` a fresh Python has loaded after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_building_a_job_loads_neither_the_model_nor_the_mcp_client():
    assert loaded(_BUILD, ("openai", "mcp", "httpx"), timeout=300) == []


def test_the_command_line_starts_without_the_sql_front_or_the_client_libraries():
    code = "import flink_agents.cli"
    assert loaded(code, ("flink_agents.sql", "sqlglot", "openai", "mcp")) == []


def test_a_module_that_takes_the_simulators_scripts_loads_no_client_or_local_stack():
    """An agent's module is imported again in each call process, as a job starts."""
    code = "from flink_agents.testing import ChatRequest, Reply, ToolCall"
    modules = ("confluent_kafka", "flink_agents.local", "openai", "mcp", "pyflink")
    assert loaded(code, modules) == []
