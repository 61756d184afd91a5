"""MCP tools for agents: sessions to MCP servers, opened on the worker and shared by its calls.

The pool runs on a worker's asyncio event loop. Tools are discovered when the worker starts
(``McpPool.start``), not when the job is compiled, and offered to the model as OpenAI
function tools.
"""

from flink_agents.mcp._errors import McpConfigError, McpError, McpTimeout, McpUnavailable
from flink_agents.mcp._params import McpConnection
from flink_agents.mcp._pool import McpPool, openai_tool_schema
from flink_agents.mcp._session import McpSession, ToolOutcome

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
