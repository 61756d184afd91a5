"""The call executor in its own process: what the operator sees of it.

Real Kafka, the model simulator and real MCP servers; the calls run in a process forked by
this one's fork server, this process playing the TaskManager.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import psutil
import pytest

from flink_agents import Agent, McpServer, ToolContext, tool
from flink_agents.local import FlinkCluster, free_port
from flink_agents.mcp import McpConfigError
from flink_agents.runtime._call_process import CallProcess
from flink_agents.runtime._executor_config import ExecutorClosed, ExecutorConfig
from flink_agents.runtime._fork_server import SERVER
from flink_agents.testing import ModelServer, TopicClient
from tests.integration import test_call_path
from tests.integration._ledger import Ledger
from tests.integration.test_call_path import (
    ROOT,
    agent,
    calc_server,
    model_call,
    read,
    tool_call,
)
from tests.jobs.ledger import script
from tests.support import eventually

pytestmark = pytest.mark.integration


@tool
def where(ctx: ToolContext) -> dict[str, object]:
    """Which process runs this call."""
    return {"pid": os.getpid(), "call_id": ctx.call_id}


# The call path's fixtures: a model simulator answering "hello", and a fresh events topic.
sim = test_call_path.sim
events_topic = test_call_path.events_topic


def process(spec: Agent | list[Agent], topics: TopicClient, topic: str) -> CallProcess:
    config = ExecutorConfig(bootstrap_servers=topics.bootstrap_servers, events_topic=topic)
    return CallProcess(spec if isinstance(spec, list) else [spec], config).start()


#: In the command line of the fork server and of the call processes it forks.
MARKER = "flink_agents.runtime._fork_server"


def _children(marker: str, of: psutil.Process | None = None) -> list[psutil.Process]:
    found = []
    for child in (of or psutil.Process()).children(recursive=True):
        try:
            if marker in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def ended(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def fork_servers(of: psutil.Process | None = None) -> list[psutil.Process]:
    """The fork servers among the children of ``of`` (this process)."""
    return [p for p in _children(MARKER, of) if not _is_call_process(p)]


def call_processes(of: psutil.Process | None = None) -> list[psutil.Process]:
    """The call processes among the descendants of ``of`` (this process)."""
    return [p for p in _children(MARKER, of) if _is_call_process(p)]


def _is_call_process(process: psutil.Process) -> bool:
    """Forked by a fork server: its parent has the same command line."""
    try:
        parent = process.parent()
        return parent is not None and MARKER in " ".join(parent.cmdline())
    except psutil.NoSuchProcess:
        return False


def calc_servers() -> list[psutil.Process]:
    return _children("tests.mcp_servers.calc_server")


def test_calls_run_in_the_child_and_each_result_is_written_once(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    calls = process(agent(sim, [where]), topics, events_topic)
    try:
        [child] = call_processes()
        calls.submit([model_call(step) for step in range(1, 6)])
        calls.submit([tool_call("where", {})])
        got = read(topics, events_topic, 6)
        ids = [r.value["id"] for r in got]
        # Written and reported, not yet read back: in flight, but no longer admitted.
        eventually(lambda: calls.admitted("calls") == 0, "the child reported every result")
        before = [calls.in_flight(i) for i in ids]
        calls.settle(ids)
        after = [calls.in_flight(i) for i in ids]
    finally:
        calls.close()
    assert Counter(ids) == Counter(set(ids)) and len(ids) == 6
    assert (all(before), any(after)) == (True, False)
    [result] = [r.value for r in got if r.value["kind"] == "tool.result"]
    assert json.loads(result["content"])["pid"] == child.pid != os.getpid()
    assert not call_processes()


def test_call_processes_are_forked_by_one_server_and_each_ends_on_its_own(
    sim: ModelServer, topics: TopicClient, events_topic: str, caplog: pytest.LogCaptureFixture
):
    first = process(agent(sim), topics, events_topic)
    second = process(agent(sim), topics, events_topic)
    try:
        server = psutil.Process(SERVER.pid)
        assert {p.pid for p in server.children()} >= {first.pid, second.pid}
        first.close()  # must not wait for the second to end (it holds no copy of the socket)
        assert first._exit_code == 0 and not first._reader.is_alive()
        second.submit([model_call(1)])
        [answer] = read(topics, events_topic, 1)
    finally:
        first.close()
        second.close()
    assert answer.value["step"] == 1
    assert second._exit_code == 0 and server.is_running() and SERVER.pid == server.pid
    assert "did not stop" not in caplog.text


def test_a_fork_server_that_died_is_replaced_and_its_call_processes_go_on(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    before = process(agent(sim), topics, events_topic)
    try:
        server = psutil.Process(SERVER.pid)
        server.kill()
        server.wait(10)
        after = process(agent(sim), topics, events_topic)
        try:
            assert SERVER.pid not in (None, server.pid)
            before.submit([model_call(1)])
            after.submit([model_call(2)])
            got = read(topics, events_topic, 2)
        finally:
            after.close()
    finally:
        before.close()
    assert sorted(r.value["step"] for r in got) == [1, 2]
    assert (before._exit_code, after._exit_code) == (None, 0)  # no server left to tell it


def test_a_full_agent_makes_submit_wait_for_the_childs_reports(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    sim.set_latency(300)
    calls = process(agent(sim, max_in_flight=2), topics, events_topic)
    try:
        returned = []
        for step in range(1, 7):
            calls.submit([model_call(step)])
            returned.append(time.monotonic())
            assert calls.admitted("calls") <= 4  # two running, two waiting to start
        got = read(topics, events_topic, 6)
    finally:
        calls.close()
    assert sorted(r.value["step"] for r in got) == [1, 2, 3, 4, 5, 6]
    assert returned[4] - returned[0] >= 0.25  # the fifth waited for a call to end
    spans = [(r.time, r.finished or 0.0) for r in sim.requests]
    overlap = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert overlap <= 2, f"{overlap} calls at the model at once"


def test_a_failed_start_in_the_child_raises_its_error_and_leaves_nothing_behind(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    good = agent(sim, [calc_server(str(ROOT), allowed_tools=["add"])])
    bad = Agent(
        name="broken",
        instructions="Answer.",
        model=good.model,
        tools=[McpServer.stdio("/nonexistent/mcp")],
    )
    with pytest.raises(McpConfigError, match="cannot start '/nonexistent/mcp'"):
        process([good, bad], topics, events_topic)
    eventually(lambda: not call_processes(), "the call process has ended")
    eventually(lambda: not calc_servers(), "the MCP server it started has ended")


def test_a_dead_child_fails_the_operators_next_call_with_the_reason(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    calls = process(agent(sim), topics, events_topic)
    try:
        [child] = call_processes()
        child.send_signal(signal.SIGKILL)
        with pytest.raises(ExecutorClosed, match=r"exited unexpectedly \(exit code -9\)"):
            eventually(lambda: calls.admitted("calls") < 0, "the operator noticed", timeout=10)
    finally:
        calls.close()


def test_the_child_and_its_mcp_servers_end_when_the_taskmanager_is_killed(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    """A TaskManager killed at once never closes the executor: its socket closing must do."""
    host = textwrap.dedent(f"""
        import sys
        from flink_agents.runtime._call_process import CallProcess
        from flink_agents.runtime._executor_config import ExecutorConfig
        from tests.integration.test_call_path import ROOT, calc_server
        from flink_agents import Agent, OpenAIModel
        spec = Agent(name="calls", instructions="Answer.",
                     model=OpenAIModel(model="sim-1", base_url={sim.base_url!r}),
                     tools=[calc_server(str(ROOT), allowed_tools=["add"])])
        config = ExecutorConfig(bootstrap_servers={topics.bootstrap_servers!r},
                                events_topic={events_topic!r})
        CallProcess([spec], config).start()
        print("started", flush=True)
        sys.stdin.read()
    """)
    host_process = subprocess.Popen(
        [sys.executable, "-c", host],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert host_process.stdout is not None
        assert host_process.stdout.readline().strip() == "started"
        host = psutil.Process(host_process.pid)
        [fork_server] = fork_servers(host)
        [child] = call_processes(host)
        [server] = _children("tests.mcp_servers.calc_server", host)
        host_process.kill()
        host_process.wait()
        eventually(lambda: ended(child), "the call process has ended", timeout=30)
        eventually(lambda: ended(server), "its MCP server has ended", timeout=30)
        eventually(lambda: ended(fork_server), "the fork server has ended", timeout=30)
    finally:
        host_process.kill()


def test_the_child_and_its_mcp_servers_end_when_the_thread_that_started_it_ends(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    """PyFlink's thread mode never closes the functions of a cancelled or restarted task:
    the task's thread ends, the TaskManager and the operator object stay."""
    started: list[CallProcess] = []
    spec = agent(sim, [calc_server(str(ROOT), allowed_tools=["add"])])
    task = threading.Thread(target=lambda: started.append(process(spec, topics, events_topic)))
    task.start()
    task.join()
    [calls] = started
    try:
        [child] = call_processes()
        [server] = calc_servers()
        eventually(lambda: ended(child), "the call process has ended", timeout=30)
        eventually(lambda: ended(server), "its MCP server has ended", timeout=30)
        with pytest.raises(ExecutorClosed, match="the task that started it has ended"):
            eventually(lambda: calls.admitted("calls") < 0, "the operator noticed", timeout=10)
    finally:
        calls.close()


@pytest.mark.cluster
def test_a_cancelled_job_leaves_no_call_process_on_the_taskmanager(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str]
):
    before = {p.pid for p in anywhere()}
    ledger = Ledger(topics, flink_cluster, job_env)
    model = ModelServer(script, port=free_port()).start()
    job_id = ledger.submit(model.base_url)
    try:
        ledger.send(0, 4)
        ledger.outputs(range(4))
        ours = [p for p in anywhere() if p.pid not in before]
        assert ours, "the job's agent operator runs its calls in a process of its own"
    finally:
        ledger.jobs.cancel(job_id)
        model.stop()
    eventually(
        lambda: all(ended(p) for p in ours), "the cancelled job's call process has ended", 30
    )


def anywhere() -> list[psutil.Process]:
    """Call processes of any parent (a TaskManager's fork server, here)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if MARKER in cmdline and not ended(proc) and _is_call_process(proc):
            found.append(proc)
    return found


def test_what_the_child_logs_reaches_the_operators_log_but_not_a_line_per_request(
    sim: ModelServer, topics: TopicClient, events_topic: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level("INFO")
    calls = process(
        agent(sim, [calc_server(str(ROOT), allowed_tools=["add"])]), topics, events_topic
    )

    def lines(logger: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name.startswith(logger)]

    try:
        eventually(
            lambda: any("calc server pid" in line for line in lines("flink_agents.mcp.server")),
            "the MCP server's stderr, logged in the child, reached this process's log",
        )
        calls.submit([model_call(step) for step in range(1, 4)])
        read(topics, events_topic, 3)
        eventually(lambda: calls.admitted("calls") == 0, "the child reported every result")
    finally:
        calls.close()
    # The SDK's HTTP client logs each request at INFO: the child keeps those to itself.
    assert [line for line in lines("httpx") if "HTTP Request" in line] == []
