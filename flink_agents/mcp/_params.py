"""How to reach one MCP server: a plain, frozen pydantic model."""

from __future__ import annotations

import os
import shlex
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, model_validator


class McpConnection(BaseModel, frozen=True):
    """One MCP server an agent may use, over stdio (a subprocess) or streamable HTTP.

    For stdio, ``env`` is added to the small environment the MCP SDK passes on (PATH, HOME,
    USER, ...): the worker's own environment is not inherited, so name what the server needs.

    >>> McpConnection(
    ...     transport="stdio", command="python", args=("-m", "jobs.tools.customer_server")
    ... ).label
    'stdio:python -m jobs.tools.customer_server'
    >>> McpConnection(transport="http", url="https://bot:pw@tools.example/mcp?key=1").label
    'https://tools.example/mcp'
    >>> McpConnection(transport="http", url="http://127.0.0.1:8000/mcp", name="crm").label
    'crm'
    """

    transport: Literal["stdio", "http"]
    # stdio
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None
    # http
    url: str | None = None
    headers: dict[str, str] | None = None
    allowed_tools: tuple[str, ...] | None = None
    """Names of the tools the agent may use; ``None`` allows every tool the server lists."""
    name: str | None = None
    """A readable label for logs and errors; by default derived from the command or URL."""
    no_retry: tuple[str, ...] = ()
    """Tools that are not safe to call twice: a timeout of one is reported, not retried."""

    @model_validator(mode="after")
    def _check_transport_fields(self) -> McpConnection:
        if self.transport == "stdio":
            if not self.command:
                raise ValueError("a stdio MCP connection needs a command")
            if self.url is not None or self.headers is not None:
                raise ValueError("url and headers are for http MCP connections, not stdio")
        else:
            if not self.url:
                raise ValueError("an http MCP connection needs a url")
            if urlsplit(self.url).scheme not in ("http", "https"):
                raise ValueError(f"an http MCP connection needs an http(s) url, got {self.url!r}")
            if self.command is not None or self.args or self.env is not None or self.cwd:
                raise ValueError("command, args, env and cwd are for stdio MCP connections")
        return self

    @property
    def label(self) -> str:
        """The name used in logs and error messages; an URL label never carries credentials."""
        if self.name:
            return self.name
        if self.transport == "stdio":
            assert self.command is not None
            # The basename keeps labels short when the command is an absolute venv path.
            words = [os.path.basename(self.command), *self.args]
            return "stdio:" + shlex.join(words)
        assert self.url is not None
        parts = urlsplit(self.url)
        # Userinfo and query strings are where tokens hide.
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


__all__ = ["McpConnection"]
