"""The call path under load and failure: real Kafka, the model simulator, real MCP servers.

Each call ends with one result that says what happened, the executor never holds more
calls than its agent allows, and a call counts as in flight until its result is read back.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from flink_agents import Agent, Limits, McpServer, OpenAIModel, ToolContext, tool
from flink_agents.core import ModelCall, ToolCall
from flink_agents.mcp import McpConfigError
from flink_agents.runtime._executor import CallExecutor, ExecutorConfig
from flink_agents.testing import ModelServer, Record, Reply, TopicClient
from tests.support import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TWO_MB = 2 * 1024 * 1024


@tool
def big() -> str:
    """Two megabytes of text."""
    return "x" * TWO_MB


@tool
def nap(seconds: float) -> str:
    """Sleep, then say so."""
    time.sleep(seconds)
    return f"slept {seconds}"


@tool(retry=False)
def open_ticket(seconds: float) -> str:
    """Open a ticket (slowly); not safe to run twice."""
    time.sleep(seconds)
    return "ticket opened"


@tool
def boom(reason: str) -> str:
    """Always fails with the given reason."""
    raise RuntimeError(reason)


@tool
def whoami(ctx: ToolContext) -> dict[str, Any]:
    """Who is calling."""
    return {"task_id": ctx.task_id, "call_id": ctx.call_id, "attempt": ctx.attempt}


def calc_server(cwd: str, **options: Any) -> McpServer:
    return McpServer.stdio(
        sys.executable, "-m", "tests.mcp_servers.calc_server", "--transport", "stdio",
        cwd=cwd, **options,
    )  # fmt: skip


@pytest.fixture
def sim() -> Iterator[ModelServer]:
    with ModelServer(Reply.text("hello")) as server:
        yield server


@pytest.fixture
def events_topic(topics: TopicClient) -> str:
    return topics.create(topics.unique("callpath-events"))


def agent(sim: ModelServer, tools: list[Any] | None = None, **limits: Any) -> Agent:
    return Agent(
        name="calls",
        instructions="Answer.",
        model=OpenAIModel(model="sim-1", base_url=sim.base_url),
        tools=tools or [],
        limits=Limits(**{"call_timeout": "5s", "backoff": "10ms", **limits}),
    )


def executor(spec: Agent | list[Agent], topics: TopicClient, topic: str) -> CallExecutor:
    config = ExecutorConfig(bootstrap_servers=topics.bootstrap_servers, events_topic=topic)
    return CallExecutor(spec if isinstance(spec, list) else [spec], config).start()


def model_call(step: int) -> ModelCall:
    return ModelCall(
        agent="calls", key="k", task_id="t", step=step, messages=[{"role": "user", "content": "hi"}]
    )


def tool_call(tool_name: str, arguments: dict[str, Any], call: int = 0, step: int = 1) -> ToolCall:
    return ToolCall(
        agent="calls",
        key="k",
        task_id="t",
        step=step,
        call=call,
        call_id=f"c{call}",
        tool=tool_name,
        arguments=json.dumps(arguments),
    )


def read(topics: TopicClient, topic: str, count: int, timeout: float = 30) -> list[Record]:
    return topics.consume(topic, count=count, timeout=timeout)


def test_a_full_executor_makes_submit_wait_and_never_runs_more_than_max_in_flight(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    sim.set_latency(300)
    calls = executor(agent(sim, max_in_flight=2), topics, events_topic)
    try:
        returned = []
        for step in range(1, 7):
            calls.submit([model_call(step)])
            returned.append(time.monotonic())
        got = read(topics, events_topic, 6)
    finally:
        calls.close()
    assert sorted(r.value["step"] for r in got) == [1, 2, 3, 4, 5, 6]
    # Two run and two wait to start: those four found room at once, the others each
    # waited for a call to end.
    assert returned[3] - returned[0] < 0.2
    assert returned[4] - returned[0] >= 0.25
    spans = [(r.time, r.finished or 0.0) for r in sim.requests]
    overlap = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert overlap <= 2, f"{overlap} calls at the model at once"


def test_a_call_stays_in_flight_until_its_result_is_read_back(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    calls = executor(agent(sim), topics, events_topic)
    try:
        calls.submit([model_call(1)])
        [written] = read(topics, events_topic, 1)
        call_id = written.value["id"]
        still = calls.in_flight(call_id)  # written, not yet read back by the operator
        calls.submit([model_call(1)])  # a check firing now must not make the call again
        calls.settle([call_id])
        after = calls.in_flight(call_id)
    finally:
        calls.close()
    assert (still, after) == (True, False)
    assert sim.count() == 1


def test_a_two_megabyte_tool_result_is_cut_with_a_note(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    calls = executor(agent(sim, [big], max_result_bytes=50_000), topics, events_topic)
    try:
        calls.submit([tool_call("big", {})])
        [result] = read(topics, events_topic, 1)
    finally:
        calls.close()
    content = result.value["content"]
    assert not result.value["is_error"]
    assert len(content.encode()) <= 50_000
    assert content.endswith(
        f"[cut: the result had {TWO_MB:,} bytes; the first 49,800 are shown above]"
    )


def test_a_hanging_tool_times_out_is_retried_visibly_and_does_not_stall_other_tools(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    spec = agent(sim, [nap, open_ticket], call_timeout="0.5s", max_retries=1)
    calls = executor(spec, topics, events_topic)
    try:
        calls.submit(
            [
                tool_call("nap", {"seconds": 3}, call=0),
                tool_call("open_ticket", {"seconds": 3}, call=1),
                tool_call("nap", {"seconds": 0}, call=2),
            ]
        )
        got = {r.value["call"]: r.value for r in read(topics, events_topic, 3)}
    finally:
        calls.close()
    hung, ticket, quick = got[0], got[1], got[2]
    assert (quick["content"], quick["is_error"]) == ("slept 0.0", False)
    assert quick["latency_ms"] < 500, "the quick call waited behind the hung ones"
    assert hung["is_error"] and hung["attempts"] == 2
    assert hung["content"] == "tool nap timed out after 0.5s (after 2 attempts)"
    assert ticket["is_error"] and ticket["attempts"] == 1
    assert "not retried: tool open_ticket is marked not safe to retry" in ticket["content"]


def test_a_raising_tool_ends_its_call_with_the_reason_once(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    calls = executor(agent(sim, [boom]), topics, events_topic)
    try:
        calls.submit([tool_call("boom", {"reason": "disk on fire"})])
        [result] = read(topics, events_topic, 1)
    finally:
        calls.close()
    assert result.value["content"] == "tool boom failed: RuntimeError: disk on fire"
    assert (result.value["is_error"], result.value["attempts"]) == (True, 1)


def test_tools_get_stable_call_ids_python_in_an_argument_mcp_in_meta(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    spec = agent(sim, [whoami, calc_server(str(ROOT), allowed_tools=["call_meta"])])
    calls = executor(spec, topics, events_topic)
    try:
        calls.submit([tool_call("whoami", {}, call=0), tool_call("call_meta", {}, call=1)])
        got = {
            r.value["call"]: json.loads(r.value["content"]) for r in read(topics, events_topic, 2)
        }
    finally:
        calls.close()
    assert got[0] == {"task_id": "t", "call_id": "t/1.0/tool.result", "attempt": 1}
    assert got[1] == {
        "flink-agents/task-id": "t",
        "flink-agents/call-id": "t/1.1/tool.result",
        "flink-agents/attempt": 1,
    }


def test_an_mcp_server_whose_configuration_breaks_on_reconnect_ends_the_call_with_the_cause(
    sim: ModelServer, topics: TopicClient, events_topic: str, tmp_path: Path
):
    workdir = tmp_path / "server-home"
    workdir.symlink_to(ROOT)
    spec = agent(sim, [calc_server(str(workdir), allowed_tools=["add", "pid"])])
    calls = executor(spec, topics, events_topic)
    try:
        calls.submit([tool_call("pid", {}, call=0)])
        [first] = read(topics, events_topic, 1)
        os.kill(int(first.value["content"]), signal.SIGKILL)
        workdir.unlink()  # the server can no longer be started where it is configured to
        calls.submit([tool_call("add", {"a": 1, "b": 2}, call=1)])
        [second] = [r for r in read(topics, events_topic, 2) if r.value["call"] == 1]
    finally:
        calls.close()
    result = second.value
    # One attempt, or two when the call went out before the client saw the server die
    # (a lost connection is retried); never the silent rounds ending in "lost its calls".
    assert result["is_error"] and result["attempts"] in (1, 2), result
    assert result["content"].startswith("tool add cannot be called: MCP server stdio:")
    assert f"cannot start {sys.executable!r} in {str(workdir)!r}" in result["content"]


def _calc_servers() -> list[psutil.Process]:
    children = psutil.Process().children(recursive=True)
    return [p for p in children if "tests.mcp_servers.calc_server" in " ".join(p.cmdline())]


def test_a_failed_start_leaves_no_thread_or_server_process_behind(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    good = agent(sim, [calc_server(str(ROOT), allowed_tools=["add"])])
    bad = Agent(
        name="broken",
        instructions="Answer.",
        model=OpenAIModel(model="sim-1", base_url=sim.base_url),
        tools=[McpServer.stdio("/nonexistent/mcp-server")],
    )
    with pytest.raises(McpConfigError, match="cannot start '/nonexistent/mcp-server'"):
        executor([good, bad], topics, events_topic)
    eventually(lambda: not _calc_servers(), "the started MCP server has ended")
    assert not [t for t in threading.enumerate() if t.name == "flink-agents-calls"]
