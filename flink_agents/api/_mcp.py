"""MCP servers as agent tools: started or reached by each Flink worker, not by the client."""

from __future__ import annotations

import shlex
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, model_validator


class McpServer(BaseModel):
    """An MCP server whose tools an agent may call, over stdio or streamable HTTP.

    Each Flink worker opens one session per server when the job starts (tools are listed
    then, on the cluster) and reuses it for every call. ``allowed_tools`` limits what the
    agent sees; None offers every tool of the server.

    >>> McpServer.stdio("python", "-m", "jobs.tools.customer_server").label
    'stdio:python -m jobs.tools.customer_server'
    >>> McpServer.http("http://127.0.0.1:8000/mcp", allowed_tools=["merchant_risk"]).allowed_tools
    ('merchant_risk',)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    transport: Literal["stdio", "http"]
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: tuple[str, ...] | None = None
    name: str | None = None

    @classmethod
    def stdio(
        cls,
        command: str,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        allowed_tools: list[str] | tuple[str, ...] | None = None,
        name: str | None = None,
    ) -> McpServer:
        """A server the worker starts as a subprocess and talks to over stdin/stdout."""
        return cls(
            transport="stdio",
            command=command,
            args=args,
            env=env,
            cwd=cwd,
            allowed_tools=tuple(allowed_tools) if allowed_tools is not None else None,
            name=name,
        )

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        allowed_tools: list[str] | tuple[str, ...] | None = None,
        name: str | None = None,
    ) -> McpServer:
        """A server reached over streamable HTTP at ``url``."""
        return cls(
            transport="http",
            url=url,
            headers=headers,
            allowed_tools=tuple(allowed_tools) if allowed_tools is not None else None,
            name=name,
        )

    @model_validator(mode="after")
    def _transport_fields(self) -> McpServer:
        if self.transport == "stdio" and not self.command:
            raise ValueError("an stdio MCP server needs a command")
        if self.transport == "http":
            parts = urlsplit(self.url or "")
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"an http MCP server needs an http(s) URL, not {self.url!r}")
        return self

    @property
    def label(self) -> str:
        """A readable name for logs and errors, without credentials."""
        if self.name:
            return self.name
        if self.transport == "stdio":
            return "stdio:" + shlex.join([self.command or "", *self.args])
        parts = urlsplit(self.url or "")
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    def connection_fields(self) -> dict[str, Any]:
        return self.model_dump()
