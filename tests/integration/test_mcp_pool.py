"""The MCP pool against real MCP servers over real transports (stdio subprocesses, HTTP).

The server is ``tests/mcp_servers/calc_server.py``. Every async test runs with blockbuster
active, so a blocking call made on the event loop (by the pool, the SDK or the test) fails
the test: on a Flink worker that loop serves every key of the task.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import psutil
import pytest
from blockbuster import blockbuster_ctx

from flink_agents.errors import FatalError, RetryableError
from flink_agents.local import free_port
from flink_agents.local._process import pid_alive
from flink_agents.mcp import (
    McpConfigError,
    McpConnection,
    McpPool,
    McpTimeout,
    McpUnavailable,
    ToolOutcome,
)
from flink_agents.testing import stop_process
from tests.support import eventually, start_mcp_http

ROOT = Path(__file__).resolve().parents[2]
SERVER_MODULE = "tests.mcp_servers.calc_server"
CALC_TOOLS = {"add", "slow", "fail", "echo_env", "pid", "header", "call_meta"}

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.timeout(120)]


@pytest.fixture
def anyio_backend() -> str:
    # The worker loop is asyncio; the pool uses asyncio tasks and futures.
    return "asyncio"


@pytest.fixture(autouse=True)
def loop_never_blocks() -> Iterator[None]:
    """Fail the test on any blocking call made while an event loop runs in this thread.

    Nothing is allowed on top of blockbuster's defaults. Those already let asyncio's
    ``subprocess_exec`` read the exec-status pipe of a new child (the one blocking read of
    the SDK's stdio spawn). The two blocking calls this check found in the SDK's paths are
    avoided in the pool itself: the lazy ``jsonschema`` import on the first tool result and
    the CA bundle load of every new HTTP client. Blocking work in a test goes through
    ``anyio.to_thread`` like it would on a worker.
    """
    with blockbuster_ctx():
        yield


def calc_stdio(**fields: Any) -> McpConnection:
    return McpConnection(
        transport="stdio",
        command=sys.executable,
        args=("-m", SERVER_MODULE, "--transport", "stdio"),
        cwd=str(ROOT),
        **fields,
    )


def result_of(outcome: ToolOutcome) -> Any:
    """The tool's value: the model reads ``5`` for an int, not the ``{"result": 5}`` wrapper."""
    assert not outcome.is_error, outcome.text
    try:
        return json.loads(outcome.text)
    except ValueError:
        return outcome.text  # a string value arrives as it is


async def outcome_or_unavailable(call: Awaitable[ToolOutcome]) -> ToolOutcome | McpUnavailable:
    try:
        return await call
    except McpUnavailable as error:
        return error


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait, off the event loop, until ``condition`` holds (``eventually``'s deadline)."""
    await anyio.to_thread.run_sync(eventually, condition, what)


@dataclass
class HttpCalcServer:
    """A calc server over streamable HTTP in a subprocess, logging into ``log``."""

    log: Path
    port: int = 0  # the system picks it at the first start; restarts keep it
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        self.process, ready = start_mcp_http(SERVER_MODULE, ["--port", str(self.port)], self.log)
        self.port = int(ready[2])

    def stop(self) -> bytes:
        """Stop it; return what it printed on stdout after its ready line."""
        if self.process is None:
            return b""
        process, self.process = self.process, None
        return stop_process(process)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HttpCalcServer]:
    server = HttpCalcServer(log=tmp_path / "calc-http.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_stdio_tools_are_listed_with_openai_schemas() -> None:
    async with McpPool([calc_stdio()]) as pool:
        schemas = {schema["function"]["name"]: schema for schema in pool.tool_schemas()}
        assert set(schemas) == CALC_TOOLS
        add = schemas["add"]
        assert add["type"] == "function"
        assert add["function"]["description"] == "Add two integers."
        parameters = add["function"]["parameters"]
        assert parameters["type"] == "object"
        assert parameters["required"] == ["a", "b"]
        assert parameters["properties"]["a"]["type"] == "integer"
        assert parameters["properties"]["b"]["type"] == "integer"
        # An argument-less tool still gets an object schema, as OpenAI requires.
        assert schemas["pid"]["function"]["parameters"]["type"] == "object"
        assert schemas["pid"]["function"]["parameters"]["properties"] == {}
        assert all(pool.has_tool(name) for name in CALC_TOOLS)
        outcome = await pool.call_tool("add", {"a": 2, "b": 3}, timeout=10)
        assert result_of(outcome) == 5
        label = f"stdio:{Path(sys.executable).name} -m {SERVER_MODULE} --transport stdio"
        assert outcome.server == label
        assert outcome.latency_s > 0


async def test_stdio_env_reaches_the_server_and_its_stderr_goes_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="flink_agents.mcp.server")
    async with McpPool([calc_stdio(env={"CALC_GREETING": "hej"}, name="calc")]) as pool:
        assert result_of(await pool.call_tool("echo_env", {"name": "CALC_GREETING"}, 10)) == "hej"
    server_lines = [r.getMessage() for r in caplog.records if r.name == "flink_agents.mcp.server"]
    assert any("[calc]" in line and "calc server pid" in line for line in server_lines)


async def test_allow_list_hides_other_tools() -> None:
    async with McpPool([calc_stdio(allowed_tools=("pid", "add"))]) as pool:
        assert [s["function"]["name"] for s in pool.tool_schemas()] == ["pid", "add"]
        assert not pool.has_tool("fail")
        hidden = await pool.call_tool("fail", {"message": "should not run"}, timeout=10)
        assert hidden.is_error
        assert "unknown tool 'fail'" in hidden.text
        assert "pid, add" in hidden.text
        assert result_of(await pool.call_tool("add", {"a": 1, "b": 1}, timeout=10)) == 2


def calc_children() -> list[int]:
    """Live stdio calc servers started by this test process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
            ours = "tests.mcp_servers.calc_server" in command and "stdio" in command
            if ours and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


async def test_unknown_allowed_tool_is_a_config_error_naming_it() -> None:
    pool = McpPool([calc_stdio(allowed_tools=("add", "multiply"), name="calc")])
    with pytest.raises(McpConfigError) as caught:
        await pool.start()
    message = str(caught.value)
    assert "'multiply'" in message
    assert "calc" in message
    for offered in CALC_TOOLS:
        assert offered in message
    assert isinstance(caught.value, FatalError)
    assert caught.value.server == "calc"
    # start() cleaned up after itself: no server process is left behind (other children,
    # such as the session's Kafka broker, are not this test's business).
    assert await anyio.to_thread.run_sync(calc_children) == []


async def test_missing_command_is_a_config_error() -> None:
    conn = McpConnection(transport="stdio", command="/nonexistent/mcp-server", args=("--x",))
    with pytest.raises(McpConfigError, match="/nonexistent/mcp-server"):
        await McpPool([conn]).start()


async def test_tool_exception_is_a_result_with_is_error() -> None:
    async with McpPool([calc_stdio()]) as pool:
        outcome = await pool.call_tool("fail", {"message": "the ledger is locked"}, timeout=10)
        assert outcome.is_error
        assert "the ledger is locked" in outcome.text
        # Bad arguments are the model's to fix as well: a result, not an exception.
        bad = await pool.call_tool("add", {"a": "one", "b": 2}, timeout=10)
        assert bad.is_error
        assert "a" in bad.text
        # The session survives tool errors.
        assert result_of(await pool.call_tool("add", {"a": 1, "b": 2}, timeout=10)) == 3
        assert pool.sessions[0].connects == 1


async def test_one_session_serves_many_calls() -> None:
    async with McpPool([calc_stdio()]) as pool:
        pids = {result_of(await pool.call_tool("pid", {}, timeout=10)) for _ in range(50)}
        assert len(pids) == 1
        (server_pid,) = pids
        assert server_pid != os.getpid()
        assert pool.sessions[0].connects == 1
    await wait_for(lambda: not pid_alive(server_pid), "the server process is gone after close()")


async def test_twenty_concurrent_calls() -> None:
    async with McpPool([calc_stdio()]) as pool:
        started = time.monotonic()
        slow = await asyncio.gather(
            *(pool.call_tool("slow", {"seconds": 0.5}, timeout=20) for _ in range(20))
        )
        elapsed = time.monotonic() - started
        assert [result_of(outcome) for outcome in slow] == ["slept 0.5s"] * 20
        # One after the other would take 10 s.
        assert elapsed < 4.0, f"20 calls of 0.5 s took {elapsed:.1f} s: they did not overlap"
        # Answers go back to the call that asked, even when they all run at once.
        sums = await asyncio.gather(
            *(pool.call_tool("add", {"a": i, "b": 1000}, timeout=20) for i in range(20))
        )
        assert [result_of(outcome) for outcome in sums] == [i + 1000 for i in range(20)]
        assert pool.sessions[0].connects == 1


async def test_reconnects_after_server_process_dies() -> None:
    async with McpPool([calc_stdio()], backoff_s=0.05) as pool:
        first_pid = result_of(await pool.call_tool("pid", {}, timeout=10))
        os.kill(first_pid, signal.SIGKILL)
        racing = await outcome_or_unavailable(pool.call_tool("pid", {}, timeout=20))
        if isinstance(racing, McpUnavailable):
            # The call raced the crash: reported as retryable, naming the server.
            assert isinstance(racing, RetryableError)
            assert "calc_server" in str(racing)
        else:
            assert result_of(racing) != first_pid
        later_pid = result_of(await pool.call_tool("pid", {}, timeout=20))
        assert later_pid != first_pid
        assert pool.sessions[0].connects == 2
        # A server that dies while idle is noticed at once: the next call just reconnects.
        os.kill(later_pid, signal.SIGKILL)
        await wait_for(lambda: not pid_alive(later_pid), "the killed server is gone")
        await wait_for(
            lambda: not pool.sessions[0].is_connected, "the pool noticed the dead server"
        )
        third_pid = result_of(await pool.call_tool("pid", {}, timeout=20))
        assert third_pid not in (first_pid, later_pid)


async def test_call_running_when_the_server_dies_fails_retryably_at_once() -> None:
    async with McpPool([calc_stdio(name="calc")], backoff_s=0.05) as pool:
        server_pid = result_of(await pool.call_tool("pid", {}, timeout=10))
        running = asyncio.ensure_future(pool.call_tool("slow", {"seconds": 30}, timeout=60))
        await wait_for(lambda: pool.sessions[0].running == 1, "the slow call runs")
        await pool.call_tool("add", {"a": 0, "b": 0}, timeout=10)  # the slow call is out too
        started = time.monotonic()
        os.kill(server_pid, signal.SIGKILL)
        with pytest.raises(McpUnavailable, match=r"calc: .*'slow' was running") as caught:
            await running
        assert time.monotonic() - started < 5.0
        assert isinstance(caught.value, RetryableError)
        assert result_of(await pool.call_tool("pid", {}, timeout=20)) != server_pid


async def test_call_timeout_raises_mcp_timeout() -> None:
    async with McpPool([calc_stdio(name="calc")]) as pool:
        started = time.monotonic()
        with pytest.raises(McpTimeout) as caught:
            await pool.call_tool("slow", {"seconds": 30}, timeout=0.5)
        assert time.monotonic() - started < 3.0
        message = str(caught.value)
        assert "calc" in message
        assert "'slow'" in message
        assert "0.5s" in message
        assert isinstance(caught.value, RetryableError)
        # The session is still good after a timed-out call.
        assert result_of(await pool.call_tool("add", {"a": 2, "b": 2}, timeout=10)) == 4
        assert pool.sessions[0].connects == 1


async def test_close_lets_running_calls_finish_within_the_grace() -> None:
    pool = McpPool([calc_stdio()], close_grace_s=5.0)
    await pool.start()
    running = asyncio.ensure_future(pool.call_tool("slow", {"seconds": 0.3}, timeout=10))
    await wait_for(lambda: pool.sessions[0].running == 1, "the slow call runs")
    await pool.close()
    assert result_of(await running) == "slept 0.3s"


async def test_close_ends_calls_still_running_after_the_grace() -> None:
    pool = McpPool([calc_stdio()], close_grace_s=0.2)
    await pool.start()
    running = asyncio.ensure_future(pool.call_tool("slow", {"seconds": 30}, timeout=60))
    await wait_for(lambda: pool.sessions[0].running == 1, "the slow call runs")
    started = time.monotonic()
    await pool.close()
    assert time.monotonic() - started < 5.0
    with pytest.raises(McpUnavailable, match=r"'slow' was running .*the pool is closed"):
        await running
    with pytest.raises(McpUnavailable, match="closed"):
        await pool.call_tool("add", {"a": 1, "b": 1}, timeout=5)


async def test_http_transport_calls_tools(http_server: HttpCalcServer) -> None:
    conn = McpConnection(transport="http", url=http_server.url, headers={"X-Api-Key": "s3cret"})
    async with McpPool([conn]) as pool:
        assert {schema["function"]["name"] for schema in pool.tool_schemas()} == CALC_TOOLS
        outcome = await pool.call_tool("add", {"a": 20, "b": 22}, timeout=10)
        assert result_of(outcome) == 42
        assert outcome.server == http_server.url
        assert result_of(await pool.call_tool("header", {"name": "X-Api-Key"}, timeout=10)) == (
            "s3cret"
        )
        failed = await pool.call_tool("fail", {"message": "no such order"}, timeout=10)
        assert failed.is_error
        assert "no such order" in failed.text
        many = await asyncio.gather(
            *(pool.call_tool("add", {"a": i, "b": i}, timeout=20) for i in range(20))
        )
        assert [result_of(outcome) for outcome in many] == [2 * i for i in range(20)]
        with pytest.raises(McpTimeout):
            await pool.call_tool("slow", {"seconds": 30}, timeout=0.5)
        assert pool.sessions[0].connects == 1
    # Stopping and reading files block: off the loop, as a worker would.
    assert await anyio.to_thread.run_sync(http_server.stop) == b""  # stdout: the ready line only
    assert "Application startup complete" in await anyio.to_thread.run_sync(
        http_server.log.read_text
    )


async def test_http_reconnects_after_server_restart(http_server: HttpCalcServer) -> None:
    conn = McpConnection(transport="http", url=http_server.url)
    async with McpPool([conn], backoff_s=0.05) as pool:
        first_pid = result_of(await pool.call_tool("pid", {}, timeout=10))
        await anyio.to_thread.run_sync(http_server.restart)
        racing = await outcome_or_unavailable(pool.call_tool("pid", {}, timeout=20))
        if isinstance(racing, McpUnavailable):
            assert http_server.url in str(racing)
        else:
            assert result_of(racing) != first_pid
        assert result_of(await pool.call_tool("pid", {}, timeout=20)) != first_pid


async def test_http_server_killed_while_calls_run_is_reached_again_after_its_restart(
    http_server: HttpCalcServer,
) -> None:
    conn = McpConnection(transport="http", url=http_server.url)
    async with McpPool([conn], backoff_s=0.05) as pool:
        first_pid = result_of(await pool.call_tool("pid", {}, timeout=10))
        running = [
            asyncio.ensure_future(pool.call_tool("slow", {"seconds": 30}, timeout=60))
            for _ in range(3)
        ]
        await wait_for(lambda: pool.sessions[0].running == 3, "the slow calls run")
        killed = http_server.process
        assert killed is not None
        killed.kill()  # mid-call: the connection breaks under the calls
        for call in running:
            with pytest.raises(McpUnavailable):
                await call
        await anyio.to_thread.run_sync(killed.wait)
        await anyio.to_thread.run_sync(http_server.start)
        # A link that broke under running calls is not offered again: these reconnect.
        pids = [
            result_of(o)
            for o in await asyncio.gather(
                *(pool.call_tool("pid", {}, timeout=20) for _ in range(3))
            )
        ]
        assert len(set(pids)) == 1 and pids[0] != first_pid


async def test_duplicate_tool_names_across_servers_are_rejected(
    http_server: HttpCalcServer,
) -> None:
    stdio = calc_stdio()
    http = McpConnection(transport="http", url=http_server.url)
    with pytest.raises(McpConfigError) as caught:
        await McpPool([stdio, http]).start()
    message = str(caught.value)
    assert "tool 'add'" in message
    assert stdio.label in message
    assert http.label in message
    # Splitting the tools between the servers resolves the clash.
    stdio_part = calc_stdio(allowed_tools=("add", "pid"))
    http_part = McpConnection(transport="http", url=http_server.url, allowed_tools=("echo_env",))
    async with McpPool([stdio_part, http_part]) as pool:
        assert {s["function"]["name"] for s in pool.tool_schemas()} == {"add", "pid", "echo_env"}
        assert pool.server_of("echo_env") == http_server.url
        assert result_of(await pool.call_tool("add", {"a": 1, "b": 2}, timeout=10)) == 3


async def test_unreachable_http_server_is_unavailable_with_url_in_message() -> None:
    port = free_port()  # nothing listens there
    conn = McpConnection(transport="http", url=f"http://agent:hunter2@127.0.0.1:{port}/mcp")
    started = time.monotonic()
    with pytest.raises(McpUnavailable) as caught:
        await McpPool([conn], connect_attempts=2, backoff_s=0.05).start()
    assert time.monotonic() - started < 10.0
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}/mcp" in message
    assert "hunter2" not in message
    assert "2 attempts" in message
    assert isinstance(caught.value, RetryableError)
