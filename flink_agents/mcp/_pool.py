"""The MCP tools of one agent on one worker: a session per server, one tool namespace."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from mcp.types import Tool

from flink_agents.mcp._errors import McpConfigError, McpError
from flink_agents.mcp._params import McpConnection
from flink_agents.mcp._session import McpSession, ToolOutcome

log = logging.getLogger("flink_agents.mcp")


def openai_tool_schema(tool: Tool) -> dict[str, Any]:
    """An MCP tool as an OpenAI function tool (``{"type": "function", "function": {...}}``)."""
    parameters = copy.deepcopy(tool.input_schema) if tool.input_schema else {}
    # OpenAI rejects a function whose parameters are not an object schema; MCP servers
    # with argument-less tools sometimes send a bare {}.
    parameters.setdefault("type", "object")
    if parameters.get("type") == "object":
        parameters.setdefault("properties", {})
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description or tool.title or "",
            "parameters": parameters,
        },
    }


class McpPool:
    """The MCP servers of an agent on one worker, with tools found at start.

    Create it on the worker's event loop and use it only from that loop. Each server gets one
    session that every call shares; a broken session reconnects on the next call. A tool's own
    failure is a result (``is_error=True``); transport failures raise ``McpUnavailable`` or
    ``McpTimeout`` (retryable), setup mistakes ``McpConfigError``.

    Example (inside the worker's async code)::

        pool = McpPool([
            McpConnection(transport="stdio", command="python",
                          args=("-m", "jobs.tools.customer_server"), cwd="/opt/job"),
            McpConnection(transport="http", url="http://127.0.0.1:8000/mcp",
                          allowed_tools=("lookup_order",)),
        ])
        await pool.start()
        tools = pool.tool_schemas()        # hand these to the model
        outcome = await pool.call_tool("lookup_order", {"id": "A-1"}, timeout=20.0)
        await pool.close()
    """

    def __init__(
        self,
        connections: Sequence[McpConnection],
        *,
        connect_timeout_s: float = 30.0,
        connect_attempts: int = 3,
        backoff_s: float = 0.25,
        close_grace_s: float = 5.0,
    ) -> None:
        if connect_attempts < 1:
            raise ValueError("connect_attempts must be at least 1")
        self._sessions = [
            McpSession(
                connection,
                connect_timeout_s=connect_timeout_s,
                connect_attempts=connect_attempts,
                backoff_s=backoff_s,
                close_grace_s=close_grace_s,
            )
            for connection in connections
        ]
        self._tools: dict[str, tuple[McpSession, Tool]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False

    @property
    def sessions(self) -> list[McpSession]:
        """The session of each server, in the order of the connections."""
        return list(self._sessions)

    async def start(self) -> None:
        """Connect every server, list its tools and apply its allow-list.

        Raises ``McpConfigError`` (bad command, unknown allowed tool, a tool name offered by
        two servers) or ``McpUnavailable`` (a server cannot be reached); then nothing is left
        running.
        """
        if self._started:
            raise RuntimeError("McpPool.start() was already called")
        self._started = True
        self._loop = asyncio.get_running_loop()
        try:
            results = await asyncio.gather(
                *(session.start() for session in self._sessions), return_exceptions=True
            )
            errors = [result for result in results if isinstance(result, BaseException)]
            if errors:
                # A fatal error says more than a transient one about what to fix first.
                fatal = [error for error in errors if isinstance(error, McpConfigError)]
                raise (fatal or errors)[0]
            self._tools = self._index()
        except BaseException:
            await self.close()
            raise
        log.info(
            "MCP pool ready: %d tools from %s",
            len(self._tools),
            ", ".join(session.label for session in self._sessions) or "no servers",
        )

    def _index(self) -> dict[str, tuple[McpSession, Tool]]:
        index: dict[str, tuple[McpSession, Tool]] = {}
        for session in self._sessions:
            for tool in session.tools:
                if tool.name in index:
                    other = index[tool.name][0]
                    raise McpConfigError(
                        f"tool {tool.name!r} is offered by two MCP servers of the agent: "
                        f"{other.label} and {session.label}. Tool names must be unique across "
                        "an agent's servers: drop it from one server's allowed_tools.",
                        server=session.label,
                    )
                index[tool.name] = (session, tool)
        return index

    def tool_schemas(self) -> list[dict[str, Any]]:
        """OpenAI function-tool schemas of every allowed tool, in server then listing order."""
        return [openai_tool_schema(tool) for _, tool in self._tools.values()]

    def has_tool(self, name: str) -> bool:
        """Whether ``name`` is an allowed tool of one of the servers."""
        return name in self._tools

    def retry_safe(self, name: str) -> bool:
        """Whether a call of tool ``name`` may be made again after a timeout or lost link."""
        session = self._tools[name][0]
        return name not in session.connection.no_retry

    def server_of(self, name: str) -> str:
        """The label of the server that offers tool ``name`` (``KeyError`` if none does)."""
        return self._tools[name][0].label

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        timeout: float,
        meta: dict[str, Any] | None = None,
    ) -> ToolOutcome:
        """Call an allowed tool within ``timeout`` seconds (reconnecting included).

        A tool that is not allowed or does not exist gives an ``is_error`` outcome naming the
        tools there are, so a model that invented a name can correct itself.
        """
        if self._loop is None:
            raise RuntimeError("McpPool.call_tool() before start()")
        if self._loop is not asyncio.get_running_loop():
            raise RuntimeError("McpPool is used from another event loop than the one it started on")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        entry = self._tools.get(name)
        if entry is None:
            return ToolOutcome(
                text=f"unknown tool {name!r}; the tools are: {', '.join(self._tools) or 'none'}",
                is_error=True,
                latency_s=0.0,
                server="",
            )
        return await entry[0].call_tool(name, arguments, timeout, meta)

    async def close(self) -> None:
        """Close every session; running calls get ``close_grace_s`` to finish."""
        results = await asyncio.gather(
            *(session.close() for session in self._sessions), return_exceptions=True
        )
        for session, result in zip(self._sessions, results, strict=True):
            if isinstance(result, McpError | OSError):
                log.warning("MCP server %s: error while closing: %s", session.label, result)
            elif isinstance(result, BaseException):
                raise result

    async def __aenter__(self) -> McpPool:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = ["McpPool", "openai_tool_schema"]
