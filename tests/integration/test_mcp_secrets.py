"""MCP credentials are named in the spec and read on the worker, over stdio and HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flink_agents import Agent, McpServer, OpenAIModel
from flink_agents.mcp import McpConfigError
from flink_agents.testing import ChatRequest, Reply, ToolCall, run_agent, stop_process
from tests.support import ROOT, start_mcp_http

pytestmark = pytest.mark.integration
TOKEN = "calc-token-7f3a9c21e5b8"


def asks(tool: str, arguments: dict[str, str]):  # type: ignore[no-untyped-def]
    def script(req: ChatRequest) -> Reply:
        if req.task.turn == 0:
            return Reply.tool_calls([ToolCall(tool, arguments)])
        return Reply.text(req.task.tool_results[0].content)

    return script


def agent(server: McpServer) -> Agent:
    return Agent(
        name="calc", instructions="Use the tool.", model=OpenAIModel(model="m"), tools=[server]
    )


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    process, ready = start_mcp_http(
        "tests.mcp_servers.calc_server", ["--port", "0"], tmp_path / "calc.log"
    )
    yield ready.group(1)
    stop_process(process)


def test_a_stdio_server_gets_a_secret_from_the_worker_environment_by_name(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("CALC_TOKEN_FOR_TEST", TOKEN)
    server = McpServer.stdio(
        sys.executable,
        "-m",
        "tests.mcp_servers.calc_server",
        cwd=str(ROOT),
        secret_env={"CALC_TOKEN": "CALC_TOKEN_FOR_TEST"},
    )

    run = run_agent(agent(server), [{"n": 1}], model=asks("echo_env", {"name": "CALC_TOKEN"}))

    assert run.outputs[0]["text"] == TOKEN
    assert TOKEN not in agent(server).model_dump_json()  # the spec names it only


def test_an_http_server_gets_a_secret_header_from_the_worker_environment_by_name(
    monkeypatch: pytest.MonkeyPatch, http_server: str
):
    monkeypatch.setenv("CALC_AUTH_FOR_TEST", f"Bearer {TOKEN}")
    server = McpServer.http(http_server, secret_headers={"Authorization": "CALC_AUTH_FOR_TEST"})

    run = run_agent(agent(server), [{"n": 1}], model=asks("header", {"name": "authorization"}))

    assert run.outputs[0]["text"] == f"Bearer {TOKEN}"
    assert TOKEN not in agent(server).model_dump_json()


def test_a_secret_the_worker_does_not_have_is_a_configuration_error_naming_it():
    server = McpServer.stdio(
        sys.executable,
        "-m",
        "tests.mcp_servers.calc_server",
        cwd=str(ROOT),
        secret_env={"CALC_TOKEN": "CALC_TOKEN_NOBODY_SET"},
    )

    with pytest.raises(McpConfigError, match="CALC_TOKEN_NOBODY_SET, which are not set"):
        run_agent(agent(server), [{"n": 1}])
