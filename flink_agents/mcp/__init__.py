"""MCP tools for agents: sessions to MCP servers, opened on the worker and shared by its calls.

The pool runs on a worker's asyncio event loop. Tools are discovered when the worker starts
(``McpPool.start``), not when the job is compiled, and offered to the model as OpenAI
function tools. The MCP SDK is loaded by the names that use it, when first used: an agent
spec (``McpConnection``) does not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flink_agents._lazy import lazy_names
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

__getattr__ = lazy_names(__name__, _CLIENT_NAMES)


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
