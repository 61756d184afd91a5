"""A small MCP server for the integration tests of `flink_agents.mcp`.

Run it over stdio (the client launches it) or streamable HTTP (a fixture launches it)::

    python -m tests.mcp_servers.calc_server --transport stdio
    python -m tests.mcp_servers.calc_server --transport http --port 0

Everything it logs goes to stderr: in stdio mode stdout carries the protocol; in HTTP mode
stdout has one line, ``calc-server listening on http://HOST:PORT/mcp``, once it serves (with
--port 0 on a port the system chose).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from jobs.tools.customer_server import serve_http

log = logging.getLogger("calc_server")

server: MCPServer = MCPServer("calc", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep for the given number of seconds, then answer."""
    await anyio.sleep(seconds)
    return f"slept {seconds}s"


@server.tool()
def fail(message: str) -> str:
    """Always fail with the given message."""
    raise ToolError(message)


@server.tool()
def echo_env(name: str) -> str:
    """Return the value of an environment variable of the server process ('' when unset)."""
    return os.environ.get(name, "")


@server.tool()
def pid() -> int:
    """Return the process id of the server, so a test can count server processes."""
    return os.getpid()


@server.tool()
def header(name: str, ctx: Context) -> str:
    """Return a request header as the server saw it ('' when absent or not over HTTP)."""
    headers = ctx.headers or {}
    return headers.get(name.lower(), "")


@server.tool()
def call_meta(ctx: Context) -> dict[str, object]:
    """The ``flink-agents/*`` entries of the request's ``_meta``, as the server saw them."""
    meta = ctx.request_context.meta or {}
    return {k: v for k, v in dict(meta).items() if k.startswith("flink-agents/")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    # Explicit stderr handler: a stray print or log line on stdout would corrupt stdio framing.
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    log.info("calc server pid %d starting on %s", os.getpid(), args.transport)
    if args.transport == "stdio":
        server.run("stdio")
        return
    asyncio.run(serve_http(server, args.host, args.port, name="calc-server"))


if __name__ == "__main__":
    main()
