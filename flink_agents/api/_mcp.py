"""MCP servers as agent tools: started or reached by each Flink worker, not by the client."""

from __future__ import annotations

from flink_agents.mcp import McpConnection


class McpServer(McpConnection, frozen=True):
    """An MCP server whose tools an agent may call, over stdio or streamable HTTP.

    Each Flink worker opens one session per server when the job starts (tools are listed
    then, on the cluster) and reuses it for every call. ``allowed_tools`` limits what the
    agent sees; None offers every tool of the server. ``no_retry`` names tools that are not
    safe to call twice (they create something): a timeout of such a call is reported to
    the model instead of retried (see ``Limits.max_retries``). Credentials are named, not
    given: ``secret_env`` (stdio) and ``secret_headers`` (http) map a variable or header to
    the worker's environment variable that holds its value, as ``OpenAIModel.api_key_env``
    does.

    >>> McpServer.stdio("python", "-m", "jobs.tools.customer_server").label
    'stdio:python -m jobs.tools.customer_server'
    >>> McpServer.http("http://127.0.0.1:8000/mcp", allowed_tools=["merchant_risk"]).allowed_tools
    ('merchant_risk',)
    """

    @classmethod
    def stdio(
        cls,
        command: str,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        allowed_tools: list[str] | tuple[str, ...] | None = None,
        name: str | None = None,
        secret_env: dict[str, str] | None = None,
        no_retry: list[str] | tuple[str, ...] = (),
    ) -> McpServer:
        """A server the worker starts as a subprocess and talks to over stdin/stdout."""
        return cls(
            transport="stdio",
            command=command,
            args=args,
            env=env,
            secret_env=secret_env,
            cwd=cwd,
            allowed_tools=_names(allowed_tools),
            name=name,
            no_retry=tuple(no_retry),
        )

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        allowed_tools: list[str] | tuple[str, ...] | None = None,
        name: str | None = None,
        secret_headers: dict[str, str] | None = None,
        no_retry: list[str] | tuple[str, ...] = (),
    ) -> McpServer:
        """A server reached over streamable HTTP at ``url``."""
        return cls(
            transport="http",
            url=url,
            headers=headers,
            secret_headers=secret_headers,
            allowed_tools=_names(allowed_tools),
            name=name,
            no_retry=tuple(no_retry),
        )


def _names(tools: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    return tuple(tools) if tools is not None else None
