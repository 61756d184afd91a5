"""MCP tools for agents: sessions to MCP servers, opened on the worker and shared by its calls.

The pool runs on a worker's asyncio event loop. Tools are discovered when the worker starts
(``McpPool.start``), not when the job is compiled, and offered to the model as OpenAI
function tools. The MCP SDK is loaded by the names that use it, when first used: an agent
spec (``McpConnection``) does not load it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flink_agents.mcp._errors import McpConfigError, McpError, McpTimeout, McpUnavailable
from flink_agents.mcp._params import McpConnection

if TYPE_CHECKING:
    from flink_agents.mcp._pool import McpPool, openai_tool_schema
    from flink_agents.mcp._session import McpSession, ToolOutcome

_CLIENT_NAMES = {
    "McpPool": "flink_agents.mcp._pool",
    "openai_tool_schema": "flink_agents.mcp._pool",
    "McpSession": "flink_agents.mcp._session",
    "ToolOutcome": "flink_agents.mcp._session",
}


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        return getattr(importlib.import_module(_CLIENT_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "McpConfigError",
    "McpConnection",
    "McpError",
    "McpPool",
    "McpSession",
    "McpTimeout",
    "McpUnavailable",
    "ToolOutcome",
    "openai_tool_schema",
]
