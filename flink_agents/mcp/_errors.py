"""The errors of the MCP client: one base, split into retryable and fatal like the rest of the tree.

A tool that raises is *not* an error here: its failure comes back as a result with
``is_error=True`` so the model can read it. These exceptions are for the transport and the
setup: a server that cannot be reached or died (``McpUnavailable``), a call that ran past its
timeout (``McpTimeout``), and a configuration that cannot work (``McpConfigError``).

>>> from flink_agents.errors import FatalError, RetryableError
>>> issubclass(McpUnavailable, RetryableError), issubclass(McpConfigError, FatalError)
(True, True)
>>> McpTimeout("calc: no answer", server="stdio:calc").server
'stdio:calc'
"""

from __future__ import annotations

from flink_agents.errors import ConfigError, FlinkAgentsError, ToolUnavailable


class McpError(FlinkAgentsError):
    """Base of the MCP client errors; ``server`` is the label of the server concerned.

    Example::

        try:
            outcome = await pool.call_tool("lookup_order", {"id": "A-1"}, timeout=20.0)
        except (McpUnavailable, McpTimeout):
            ...  # retry later: the pool reconnects by itself
    """

    def __init__(self, message: str, *, server: str | None = None, sent: bool = True) -> None:
        super().__init__(message)
        self.server = server
        #: False when the call never reached the server, so making it again is safe.
        self.sent = sent


class McpUnavailable(McpError, ToolUnavailable):
    """The server could not be started or reached, or its connection broke: retry later."""


class McpTimeout(McpError, ToolUnavailable):
    """A call (or the connection it waited for) ran past its timeout: retry later."""


class McpConfigError(McpError, ConfigError):
    """A server configuration that cannot work (bad command, unknown allowed tool, name clash)."""


__all__ = ["McpConfigError", "McpError", "McpTimeout", "McpUnavailable"]
