"""An MCP server with a side effect, for the fault tests: ``record`` writes an entry to a
SQLite ledger, once per call id, and logs every request that reached it.

    python -m tests.mcp_servers.ledger_server --transport http --port 0 --db PATH [--delay S]

``entries`` has one row per call id (the ``flink-agents/call-id`` of the request's
``_meta``): a retry of a call that already wrote its entry writes nothing new, as
docs/guarantees.md asks of a tool with side effects. ``arrivals`` has one row per request,
retries included. The file outlives the process, so a test kills the server, starts it
again on the same port and counts what each input left behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer

from jobs.tools.customer_server import log_to_stderr, run

log = logging.getLogger("ledger_server")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (call_id TEXT PRIMARY KEY, entry TEXT NOT NULL, pid INTEGER);
CREATE TABLE IF NOT EXISTS arrivals (call_id TEXT NOT NULL, entry TEXT NOT NULL, pid INTEGER);
"""


def build_server(db: Path, delay_s: float) -> MCPServer[Any]:
    with sqlite3.connect(db) as con:
        con.executescript(_SCHEMA)
    server: MCPServer[Any] = MCPServer("ledger", log_level="WARNING")

    @server.tool()
    async def record(entry: str, ctx: Context) -> str:
        """Write ``entry`` to the ledger (once per call, however often it is retried)."""
        meta = dict(ctx.request_context.meta or {})
        call_id = str(meta.get("flink-agents/call-id") or "")
        if not call_id:
            raise ValueError("record needs the flink-agents/call-id of the request's _meta")
        with sqlite3.connect(db) as con:
            con.execute("INSERT INTO arrivals VALUES (?, ?, ?)", (call_id, entry, os.getpid()))
        await anyio.sleep(delay_s)  # the work takes a while: a kill can land mid-call
        with sqlite3.connect(db) as con:
            con.execute(
                "INSERT OR IGNORE INTO entries VALUES (?, ?, ?)", (call_id, entry, os.getpid())
            )
        return f"recorded {entry}"

    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: let the system choose")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each call takes")
    args = parser.parse_args(argv)
    log_to_stderr()
    server = build_server(args.db, args.delay)
    return run(server, args.transport, args.host, args.port, name="ledger-server")


if __name__ == "__main__":
    raise SystemExit(main())
