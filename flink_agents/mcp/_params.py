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
    secret_env: dict[str, str] | None = None
    """Server environment variables whose values are read, on the worker, from the worker's
    environment variable of the given name: ``{"CRM_TOKEN": "CRM_TOKEN"}``. The values never
    enter the spec, the job graph, events or logs."""
    # http
    url: str | None = None
    headers: dict[str, str] | None = None
    secret_headers: dict[str, str] | None = None
    """Headers whose values are read, on the worker, from the environment variable of the
    given name: ``{"Authorization": "CRM_AUTHORIZATION"}``."""
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
            if self.url is not None or self.headers is not None or self.secret_headers:
                raise ValueError(
                    "url, headers and secret_headers are for http MCP connections, not stdio"
                )
        else:
            if not self.url:
                raise ValueError("an http MCP connection needs a url")
            if urlsplit(self.url).scheme not in ("http", "https"):
                raise ValueError(f"an http MCP connection needs an http(s) url, got {self.url!r}")
            if self.command is not None or self.args or self.env is not None or self.cwd:
                raise ValueError("command, args, env and cwd are for stdio MCP connections")
            if self.secret_env:
                raise ValueError("secret_env is for stdio MCP connections; use secret_headers")
        return self

    def environment(self) -> dict[str, str] | None:
        """The stdio server's environment: ``env`` and the ``secret_env`` values, read here.

        >>> import os
        >>> os.environ["DOC_CRM_TOKEN"] = "t0ken"
        >>> McpConnection(transport="stdio", command="srv", env={"MODE": "ro"},
        ...               secret_env={"TOKEN": "DOC_CRM_TOKEN"}).environment()
        {'MODE': 'ro', 'TOKEN': 't0ken'}
        """
        if not self.secret_env:
            return self.env
        return {**(self.env or {}), **self._secrets(self.secret_env, "secret_env")}

    def http_headers(self) -> dict[str, str] | None:
        """The HTTP headers: ``headers`` and the ``secret_headers`` values, read here."""
        if not self.secret_headers:
            return self.headers
        return {**(self.headers or {}), **self._secrets(self.secret_headers, "secret_headers")}

    def secret_values(self) -> list[str]:
        """The values of this connection's secrets on this worker (to redact them)."""
        names = {**(self.secret_env or {}), **(self.secret_headers or {})}.values()
        return [os.environ[n] for n in names if os.environ.get(n)]

    def _secrets(self, names: dict[str, str], field: str) -> dict[str, str]:
        missing = sorted(v for v in names.values() if not os.environ.get(v))
        if missing:
            from flink_agents.mcp._errors import McpConfigError

            raise McpConfigError(
                f"MCP server {self.label}: {field} reads the environment variables "
                f"{', '.join(missing)}, which are not set where the job runs. Set them for the "
                "Flink TaskManagers (for the local stack: export them before "
                "`flink-agents local up`).",
                server=self.label,
            )
        return {name: os.environ[variable] for name, variable in names.items()}

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
