"""One managed MCP session per server.

Each connection to a server lives in one long-lived *owner* task that enters and leaves the
``async with Client(...)`` context itself: anyio cancel scopes (inside the SDK's transports)
must be exited by the task that entered them. Callers never touch the ``Client``; they put a
``_Call`` (name, arguments, future) on the owner's inbox and await the future. The owner runs
each call as a child task inside the client context, so many calls share one session and run
concurrently.

A connection that breaks (the stdio server exits, an HTTP request cannot be sent) ends its
owner: calls that were running fail with ``McpUnavailable``, calls that had not been sent yet
are moved to the next connection, and the next call reconnects (bounded attempts, backoff).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TextIO, TypeVar, cast

import anyio
import httpx2
from mcp import MCPError, StdioServerParameters
from mcp.client.client import Client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import (
    CONNECTION_CLOSED,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    REQUEST_TIMEOUT,
    CallToolResult,
    EmbeddedResource,
    RequestParamsMeta,
    ResourceLink,
    TextContent,
    TextResourceContents,
    Tool,
)
from pydantic import ValidationError

from flink_agents._tls import tls_context
from flink_agents.mcp._errors import McpConfigError, McpError, McpTimeout, McpUnavailable
from flink_agents.mcp._params import McpConnection

# The SDK imports jsonschema lazily, on the first tool result it validates; that import reads
# schema files from disk, which must not happen on the worker's event loop. Import it now.
importlib.import_module("jsonschema")

log = logging.getLogger("flink_agents.mcp")
server_log = logging.getLogger("flink_agents.mcp.server")

_T_co = TypeVar("_T_co", covariant=True)

# Enough to show why a server died without flooding an error message.
_STDERR_TAIL_LINES = 15
# A server that just exited has written its last stderr lines; waiting longer gains nothing.
_STDERR_DRAIN_S = 1.0
_MAX_TOOL_PAGES = 100
_CLOSED_BY_POOL = "closed by the pool"
_BACKOFF_CAP_S = 5.0
# The SDK's own defaults for streamable HTTP: the read timeout covers long SSE streams, and
# the per-call timeout of this module is what bounds a tool call.
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a tool call returned, ready for the model.

    ``text`` joins the text parts (or is the structured content as JSON when the server sent
    some); ``is_error`` is True when the tool itself failed: the model should read why.

    >>> ToolOutcome(text='3', is_error=False, latency_s=0.004, server="calc").is_error
    False
    """

    text: str
    is_error: bool
    latency_s: float
    server: str


class _NotSent(Exception):
    """The call never reached the server: it is safe to send it on the next connection."""


@dataclass(eq=False)
class _Call:
    name: str
    arguments: dict[str, Any]
    future: asyncio.Future[CallToolResult | ToolOutcome]
    meta: dict[str, Any] | None = None
    sent: bool = False


class _Receiver(Protocol[_T_co]):
    async def receive(self) -> _T_co: ...

    async def aclose(self) -> None: ...


class _WatchedReadStream(Generic[_T_co]):
    """A transport read stream that reports when the server's messages stop for good.

    The SDK notices a dead stdio server only through the next request; watching the stream
    lets the owner end at once, so the next call reconnects before it is sent.
    """

    def __init__(self, inner: _Receiver[_T_co], on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> Any:
        # The dispatcher reads the sender's contextvars from here (streamable HTTP sets it).
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> _T_co:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedReadStream[_T_co]:
        return self

    async def __anext__(self) -> _T_co:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _WatchedReadStream[_T_co]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _StderrPipe:
    """Carries a stdio server's stderr into logging, away from the protocol on stdout.

    The last lines are kept so that a server dying at start can be explained in the error.
    """

    def __init__(self, label: str) -> None:
        self._label = label
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self.writer: TextIO = os.fdopen(write_fd, "w")
        self.tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
        self.drained = anyio.Event()

    def close_writer(self) -> None:
        # The child has its own copy; ours must go or the pipe never reaches end of file.
        self.writer.close()

    async def pump(self) -> None:
        pending = b""
        try:
            while True:
                try:
                    await anyio.wait_readable(self._read_fd)
                    chunk = os.read(self._read_fd, 65536)
                except BlockingIOError:
                    continue
                except (anyio.ClosedResourceError, OSError):
                    break
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._emit(line)
        finally:
            if pending:
                self._emit(pending)
            self.drained.set()

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            self.tail.append(line)
            server_log.info("[%s] %s", self._label, line)

    def close(self) -> None:
        self.close_writer()
        anyio.notify_closing(self._read_fd)
        os.close(self._read_fd)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _describe(exc: BaseException) -> str:
    """A one-line account of an error, looking through exception groups and cancellations."""
    seen: list[str] = []
    for leaf in _leaves(exc):
        if isinstance(leaf, asyncio.CancelledError):
            continue
        text = f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
        if isinstance(leaf, MCPError):
            text = f"MCP error {leaf.code}: {leaf.message}"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) or "the connection was cancelled"


def outcome_text(result: CallToolResult) -> str:
    """The text a model should see for a tool result.

    Structured content wins over text parts (a list arrives as one JSON array, not one text
    block per item). Servers wrap a value that is not an object as ``{"result": value}``;
    the model sees the value itself: ``5``, not ``{"result": 5}``.
    """
    structured = result.structured_content
    if structured is not None and not result.is_error:
        if isinstance(structured, dict) and set(structured) == {"result"}:
            structured = structured["result"]
            if isinstance(structured, str):
                return structured
        return json.dumps(structured, ensure_ascii=False)
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, EmbeddedResource) and isinstance(
            block.resource, TextResourceContents
        ):
            parts.append(block.resource.text)
        elif isinstance(block, ResourceLink):
            parts.append(f"[resource {block.uri}]")
        else:
            mime = getattr(block, "mime_type", None) or getattr(
                getattr(block, "resource", None), "mime_type", None
            )
            parts.append(f"[{block.type} content{f' ({mime})' if mime else ''} not shown]")
    return "\n".join(parts)


class _Link:
    """One connection to a server, held by its owner task from connect to close."""

    def __init__(self, session: McpSession) -> None:
        self._session = session
        self.label = session.label
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[list[Tool]] = loop.create_future()
        # Retrieved here so that a connect failure nobody awaits any more is not logged as lost.
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inbox_send, self._inbox = anyio.create_memory_object_stream[_Call](math.inf)
        self._end = anyio.Event()
        self._end_reason: str | None = None
        self._running: set[_Call] = set()
        self.task: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def usable(self) -> bool:
        return (
            self.ready.done()
            and not self.ready.cancelled()
            and self.ready.exception() is None
            and not self._end.is_set()
        )

    def end(self, reason: str) -> None:
        """Make the owner leave the client context (from any task of the loop)."""
        if self._end_reason is None:
            self._end_reason = reason
        self._end.set()

    def submit(
        self, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None = None
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._end.is_set():
            raise _NotSent
        try:
            self._inbox_send.send_nowait(_Call(name, arguments, future, meta))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise _NotSent from None
        return future

    def stop_accepting(self) -> None:
        # The owner finishes the calls it already has, then leaves the client context.
        if self._end_reason is None:
            self._end_reason = _CLOSED_BY_POOL
        self._inbox_send.close()

    async def run(self) -> None:
        """The owner task: enter the client, serve calls, leave the client, in this one task."""
        conn = self._session.connection
        stderr: _StderrPipe | None = None
        failure: BaseException | None = None
        try:
            if conn.transport == "stdio":
                stderr = _StderrPipe(self.label)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._cancel_on_end, tg.cancel_scope)
                if stderr is not None:
                    tg.start_soon(stderr.pump)
                try:
                    async with Client(self._transport(stderr), cache=None) as client:
                        tools = await _list_tools(client)
                        self.ready.set_result(tools)
                        async with anyio.create_task_group() as calls:
                            async for call in self._inbox:
                                calls.start_soon(self._serve, client, call)
                finally:
                    if stderr is not None:
                        stderr.close_writer()
                        with anyio.move_on_after(_STDERR_DRAIN_S, shield=True):
                            await stderr.drained.wait()
                    tg.cancel_scope.cancel()
        except Exception as exc:  # noqa: BLE001 - whatever ended the link is reported, not raised
            failure = exc
        finally:
            # However it ended (an error of the transport included), this link takes no more
            # calls: the next call connects again instead of finding it usable.
            self._end.set()
            try:
                if stderr is not None:
                    stderr.close()
                self._settle(failure, stderr)
            finally:
                # Whatever went wrong above, nobody may be left waiting for this link.
                if not self.ready.done():
                    self.ready.set_exception(
                        McpUnavailable(
                            f"MCP server {self.label}: the connection failed "
                            f"({_describe(failure) if failure else 'unknown reason'}).",
                            server=self.label,
                        )
                    )

    async def _cancel_on_end(self, scope: anyio.CancelScope) -> None:
        await self._end.wait()
        scope.cancel()

    def _transport(
        self, stderr: _StderrPipe | None
    ) -> AbstractAsyncContextManager[tuple[Any, Any]]:
        conn = self._session.connection

        def on_end() -> None:
            self.end("the server closed the connection")

        if stderr is not None:
            assert conn.command is not None
            params = StdioServerParameters(
                command=conn.command, args=list(conn.args), env=conn.environment(), cwd=conn.cwd
            )
            return _stdio_streams(params, stderr, on_end)
        assert conn.url is not None
        return _http_streams(conn.url, conn.http_headers(), on_end)

    async def _serve(self, client: Client, call: _Call) -> None:
        if call.future.done():
            return  # the caller gave up before the call started
        if self._end.is_set():
            call.future.set_exception(_NotSent())
            return
        self._running.add(call)
        with anyio.CancelScope() as scope:
            # A caller that times out or is cancelled cancels its future; stop the request
            # too, which makes the SDK send the server a cancellation notice.
            call.future.add_done_callback(lambda f: scope.cancel() if f.cancelled() else None)
            call.sent = True
            outcome: CallToolResult | ToolOutcome | McpError
            try:
                outcome = await client.call_tool(
                    call.name,
                    call.arguments,
                    meta=cast(RequestParamsMeta, call.meta) if call.meta else None,
                )
            except MCPError as exc:
                outcome = self._protocol_error(call, exc)
            except (RuntimeError, ValidationError) as exc:
                # The SDK raises these for a result it cannot accept (bad shape, output
                # schema mismatch, input rounds it cannot answer): the tool call failed,
                # the connection is fine.
                outcome = ToolOutcome(
                    text=f"the MCP server returned a result that could not be used: {exc}",
                    is_error=True,
                    latency_s=0.0,
                    server=self.label,
                )
            if not call.future.done():
                if isinstance(outcome, McpError):
                    call.future.set_exception(outcome)
                else:
                    call.future.set_result(outcome)
        self._running.discard(call)

    def _protocol_error(self, call: _Call, exc: MCPError) -> ToolOutcome | McpError:
        # The client reports transport failures as these codes: a closed stream, and an
        # HTTP answer that is not one (the server forgot the session after a restart, a
        # redirect, another content type). A new session is the remedy for each.
        if exc.code in (CONNECTION_CLOSED, INVALID_REQUEST):
            self.end(f"the connection was lost ({exc.message})")
            return McpUnavailable(
                f"MCP server {self.label}: the connection was lost while tool {call.name!r} "
                "was running; it reconnects on the next call (retry it if it is safe to).",
                server=self.label,
            )
        if exc.code == REQUEST_TIMEOUT:
            return McpTimeout(
                f"MCP server {self.label}: tool {call.name!r} timed out ({exc.message}).",
                server=self.label,
            )
        if exc.code == INTERNAL_ERROR:
            # Tool failures come back as results; an internal error is the server (or a
            # proxy in front of it) failing, which may pass.
            return McpUnavailable(
                f"MCP server {self.label}: internal error while calling tool {call.name!r}: "
                f"{exc.message}. Check the server's log; retry later.",
                server=self.label,
            )
        # The server refused this call (unknown tool, bad arguments): the model can fix it.
        return ToolOutcome(
            text=f"MCP error {exc.code}: {exc.message}",
            is_error=True,
            latency_s=0.0,
            server=self.label,
        )

    def _settle(self, failure: BaseException | None, stderr: _StderrPipe | None) -> None:
        """After the client context closed: answer every call and the connect waiter."""
        reason = self._end_reason
        if failure is not None:
            reason = _describe(failure)
        if not self.ready.done():
            self.ready.set_exception(self._connect_error(failure, stderr))
        elif failure is not None or reason != _CLOSED_BY_POOL:
            log.warning("MCP server %s: connection ended: %s", self.label, reason)
        else:
            log.info("MCP server %s: connection closed", self.label)
        self._inbox_send.close()
        for call in self._running:
            if not call.future.done():
                if call.sent:
                    after = (
                        "the pool is closed"
                        if reason == _CLOSED_BY_POOL
                        else "it reconnects on the next call"
                    )
                    call.future.set_exception(
                        McpUnavailable(
                            f"MCP server {self.label}: the connection ended while tool "
                            f"{call.name!r} was running ({reason or 'closed'}); {after}.",
                            server=self.label,
                        )
                    )
                else:
                    call.future.set_exception(_NotSent())
        self._running.clear()
        while True:
            try:
                call = self._inbox.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            if not call.future.done():
                call.future.set_exception(_NotSent())
        self._inbox.close()

    def _connect_error(self, failure: BaseException | None, stderr: _StderrPipe | None) -> McpError:
        conn = self._session.connection
        # Without an exception the link was ended from outside: a connect timeout, or the
        # server closing its side (which cancels the handshake before it can fail).
        detail = _describe(failure) if failure is not None else self._end_reason or "cancelled"
        leaves = _leaves(failure) if failure is not None else []
        for leaf in leaves:
            if isinstance(leaf, McpConfigError):  # a secret the worker does not have
                return leaf
        if conn.transport == "stdio":
            for leaf in leaves:
                spawn_error = isinstance(leaf, OSError) and not isinstance(leaf, ConnectionError)
                # ValueError: the SDK's answer to arguments the OS cannot take (NUL bytes).
                bad_argument = isinstance(leaf, ValueError) and not isinstance(
                    leaf, ValidationError
                )
                if spawn_error or bad_argument:
                    return McpConfigError(
                        f"MCP server {self.label}: cannot start {conn.command!r}"
                        f"{f' in {conn.cwd!r}' if conn.cwd else ''}: {leaf}. "
                        "Check the command, its arguments and cwd.",
                        server=self.label,
                    )
            tail = "\n  ".join(stderr.tail) if stderr is not None else ""
            said = f" Its last stderr lines:\n  {tail}" if tail else " It wrote nothing to stderr."
            return McpUnavailable(
                f"MCP server {self.label}: the server process did not complete the MCP "
                f"handshake ({detail}).{said}",
                server=self.label,
            )
        return McpUnavailable(
            f"MCP server {self.label}: cannot connect ({detail}). "
            "Check that the server is running and the URL is right.",
            server=self.label,
        )


@asynccontextmanager
async def _stdio_streams(
    params: StdioServerParameters, stderr: _StderrPipe, on_end: Callable[[], None]
) -> AsyncIterator[tuple[Any, Any]]:
    async with stdio_client(params, errlog=stderr.writer) as (read, write):
        stderr.close_writer()
        yield _WatchedReadStream(read, on_end), write


@asynccontextmanager
async def _http_streams(
    url: str, headers: dict[str, str] | None, on_end: Callable[[], None]
) -> AsyncIterator[tuple[Any, Any]]:
    # A new AsyncClient would load the CA bundle from disk on the event loop; build the TLS
    # context once, in a thread, and share it.
    tls = await anyio.to_thread.run_sync(tls_context)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=_HTTP_TIMEOUT, verify=tls) as http,
        streamable_http_client(url, http_client=http) as (read, write),
    ):
        yield _WatchedReadStream(read, on_end), write


async def _list_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools
    raise McpUnavailable(f"tools/list did not end after {_MAX_TOOL_PAGES} pages")


def _select(label: str, tools: Iterable[Tool], allowed: tuple[str, ...] | None) -> list[Tool]:
    by_name = {tool.name: tool for tool in tools}
    if allowed is None:
        return list(by_name.values())
    missing = [name for name in allowed if name not in by_name]
    if missing:
        raise McpConfigError(
            f"MCP server {label}: allowed_tools names {', '.join(map(repr, missing))} but the "
            f"server has no such tool; it offers: {', '.join(sorted(by_name)) or 'no tools'}.",
            server=label,
        )
    return [by_name[name] for name in dict.fromkeys(allowed)]


def _check_no_retry(label: str, tools: list[Tool], no_retry: tuple[str, ...]) -> None:
    names = {tool.name for tool in tools}
    unknown = [name for name in no_retry if name not in names]
    if unknown:
        raise McpConfigError(
            f"MCP server {label}: no_retry names {', '.join(map(repr, unknown))}, which is not "
            f"one of the agent's tools from this server: {', '.join(sorted(names)) or 'none'}.",
            server=label,
        )


@dataclass(repr=False)
class McpSession:
    """One server's session, shared by every call of a worker and reopened when it breaks.

    Use it through ``McpPool``; on its own it is driven like this (on the worker's loop)::

        session = McpSession(McpConnection(transport="http", url="http://127.0.0.1:8000/mcp"))
        tools = await session.start()               # connect, list the allowed tools
        outcome = await session.call_tool("add", {"a": 1, "b": 2}, timeout=10.0)
        await session.close()
    """

    connection: McpConnection
    connect_timeout_s: float = 30.0
    connect_attempts: int = 3
    backoff_s: float = 0.25
    close_grace_s: float = 5.0
    label: str = field(init=False)
    tools: list[Tool] = field(init=False, default_factory=list)
    _link: _Link | None = field(init=False, default=None)
    _connecting: asyncio.Task[_Link] | None = field(init=False, default=None)
    _closed: bool = field(init=False, default=False)
    _owners: set[asyncio.Task[None]] = field(init=False, default_factory=set)
    connects: int = field(init=False, default=0)
    """How many connections were opened: 1 while the first session lasts."""

    def __post_init__(self) -> None:
        self.label = self.connection.label

    def __repr__(self) -> str:
        state = f"connected={self.is_connected}, connects={self.connects}"
        return f"McpSession({self.label!r}, {state})"

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up now (a broken one is replaced on the next call)."""
        return self._link is not None and self._link.usable

    @property
    def running(self) -> int:
        """Calls sent to the server on the current connection and not answered yet."""
        return self._link.in_flight if self._link is not None else 0

    async def start(self) -> list[Tool]:
        """Connect, list the tools and apply the allow-list; returns the allowed tools."""
        link = await self._live()
        assert link.ready.done()
        try:
            self.tools = _select(self.label, link.ready.result(), self.connection.allowed_tools)
            _check_no_retry(self.label, self.tools, self.connection.no_retry)
        except McpConfigError:
            await self.close()
            raise
        return self.tools

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        timeout: float,
        meta: dict[str, Any] | None = None,
    ) -> ToolOutcome:
        """Call a tool; raises ``McpUnavailable`` or ``McpTimeout``, never for the tool's error.

        ``meta`` goes to the server as the request's ``_meta``. An error raised before the
        request went out has ``sent`` False: making the call again cannot run it twice.
        """
        started = time.monotonic()
        phase = "connect to the server"
        sent = False
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                while True:
                    try:
                        link = await self._live()
                    except McpError as exc:
                        exc.sent = False
                        raise
                    phase = f"answer tool {name!r}"
                    try:
                        future = link.submit(name, arguments, meta)
                        sent = True
                        result = await future
                    except _NotSent:
                        # The link ended before the call went out: the next one may take it.
                        phase, sent = "reconnect to the server", False
                        await asyncio.sleep(0)
                        continue
                    break
        except TimeoutError:
            if not deadline.expired():
                raise
            raise McpTimeout(
                f"MCP server {self.label}: did not {phase} within {timeout:g}s; the call was "
                "cancelled. Raise the timeout or check the server.",
                server=self.label,
                sent=sent,
            ) from None
        latency = time.monotonic() - started
        if isinstance(result, ToolOutcome):
            return ToolOutcome(result.text, result.is_error, latency, self.label)
        return ToolOutcome(outcome_text(result), bool(result.is_error), latency, self.label)

    async def close(self) -> None:
        """Finish running calls (up to ``close_grace_s``), then close the session."""
        self._closed = True
        connecting = self._connecting
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with suppress(asyncio.CancelledError, McpError):
                await connecting
        link, self._link = self._link, None
        if link is not None and link.task is not None:
            link.stop_accepting()
            done, _ = await asyncio.wait({link.task}, timeout=self.close_grace_s)
            if not done:
                link.end("the pool was closed")
        # Links that broke earlier may still be stopping their server process.
        if self._owners:
            await asyncio.wait(set(self._owners))

    async def _live(self) -> _Link:
        link = self._link
        if link is not None and link.usable:
            return link
        if self._closed:
            raise McpUnavailable(f"MCP server {self.label}: the pool is closed.", server=self.label)
        if self._connecting is None or self._connecting.done():
            task = asyncio.get_running_loop().create_task(
                self._connect(), name=f"mcp-connect:{self.label}"
            )
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._connecting = task
        # Shielded: one caller timing out must not abort a reconnect that others wait on.
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Link:
        delay = self.backoff_s
        last: McpError | None = None
        for attempt in range(1, self.connect_attempts + 1):
            link = _Link(self)
            link.task = asyncio.get_running_loop().create_task(
                link.run(), name=f"mcp-session:{self.label}"
            )
            self._owners.add(link.task)
            link.task.add_done_callback(self._owners.discard)
            try:
                tools = await asyncio.wait_for(asyncio.shield(link.ready), self.connect_timeout_s)
            except McpConfigError:
                await link.task
                raise
            except McpUnavailable as exc:
                await link.task
                last = exc
            except TimeoutError:
                link.end(f"no answer within {self.connect_timeout_s:g}s")
                await link.task
                last = McpUnavailable(
                    f"MCP server {self.label}: no MCP handshake within "
                    f"{self.connect_timeout_s:g}s.",
                    server=self.label,
                )
            except asyncio.CancelledError:
                link.end("cancelled")
                await asyncio.shield(link.task)
                raise
            else:
                self.connects += 1
                self._check_tools_unchanged(tools)
                self._link = link
                if attempt > 1 or self.connects > 1:
                    log.info("MCP server %s: connected (attempt %d)", self.label, attempt)
                return link
            log.warning(
                "MCP server %s: connect attempt %d/%d failed: %s",
                self.label,
                attempt,
                self.connect_attempts,
                last,
            )
            if attempt < self.connect_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_CAP_S)
        assert last is not None
        # A stderr tail ends the message with lines of its own.
        sep = "\n" if "\n" in str(last) else " "
        raise McpUnavailable(
            f"{last}{sep}Gave up after {self.connect_attempts} attempts.", server=self.label
        )

    def _check_tools_unchanged(self, tools: list[Tool]) -> None:
        if not self.tools:
            return
        names = {tool.name for tool in tools}
        gone = [tool.name for tool in self.tools if tool.name not in names]
        if gone:
            # The agent keeps the tool set it started with; calls to these will fail.
            log.warning(
                "MCP server %s: after reconnecting it no longer lists %s",
                self.label,
                ", ".join(gone),
            )


__all__ = ["McpSession", "ToolOutcome", "outcome_text"]
