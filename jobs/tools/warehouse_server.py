"""MCP tool server of the maintenance demo: read-only SQL over the plant's warehouse.

A stand-in for a data platform (BigQuery, Snowflake, Databricks): a DuckDB file with
asset, maintenance-history and parts tables (`jobs.tools.plant_data`). The agent may run
one SELECT at a time over the allowed tables; anything else is refused before it runs,
results stop at a row limit (and say so), and a query that runs too long is interrupted.
The database is opened read-only with external access off, so file and network table
functions (``read_csv``, ``ATTACH``, ``httpfs``) fail even inside a SELECT.

    python -m jobs.tools.warehouse_server --transport stdio --db PATH
    python -m jobs.tools.warehouse_server --transport http --port 0 --db PATH

Logs go to stderr; in HTTP mode one stdout line ``warehouse-server listening on
http://HOST:PORT/mcp`` says it is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import logging
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from typing_extensions import TypedDict

from jobs.tools.customer_server import log_to_stderr, run
from jobs.tools.plant_data import ALLOWED_TABLES, build_warehouse

log = logging.getLogger("warehouse_server")

SERVER_NAME = "plant-warehouse"


class QueryResult(TypedDict):
    """Rows of a query: ``truncated`` is true when more rows matched than ``max_rows``."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


class TableInfo(TypedDict):
    """An allowed table and its columns (name and SQL type)."""

    table: str
    columns: list[list[str]]


@dataclass(frozen=True)
class Warehouse:
    """Read-only SQL over ``db``, limited to ``tables``, ``max_rows`` rows and ``timeout_s``."""

    db: Path
    tables: tuple[str, ...] = ALLOWED_TABLES
    max_rows: int = 200
    timeout_s: float = 5.0

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(
            str(self.db),
            read_only=True,
            config={"enable_external_access": False, "lock_configuration": True},
        )

    def check(self, sql: str) -> None:
        """Refuse, with the reason, anything but one SELECT over allowed tables.

        DuckDB's own parser decides: the statement's type, then the tables its syntax tree
        names (in joins, subqueries and CTEs alike). Table functions (``read_csv``,
        ``query``, ``duckdb_tables``) are refused: they read past the allow-list.
        """
        with duckdb.connect(":memory:") as parser:
            try:
                statements = parser.extract_statements(sql)
            except duckdb.Error as exc:
                raise ToolError(f"the query does not parse: {exc}") from None
            if len(statements) != 1:
                raise ToolError(f"send exactly one SELECT statement (got {len(statements)})")
            kind = statements[0].type
            if kind != duckdb.StatementType.SELECT:
                raise ToolError(f"only SELECT is allowed, not {kind.name}")
            (tree,) = parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone() or ("",)
        parsed = json.loads(tree)
        if parsed.get("error"):
            raise ToolError(f"the query does not parse: {parsed.get('error_message')}")
        ctes: set[str] = set()
        tables: set[str] = set()
        _walk(parsed, ctes, tables)
        refused = sorted(tables - ctes - set(self.tables))
        if refused:
            raise ToolError(
                f"table {', '.join(refused)} is not allowed; allowed: {', '.join(self.tables)}"
            )

    def fetch(self, con: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
        """Run a checked query on ``con`` (closed afterwards), at most ``max_rows`` rows."""
        try:
            cursor = con.execute(sql)
            rows = cursor.fetchmany(self.max_rows + 1)
            columns = [d[0] for d in cursor.description or ()]
        finally:
            con.close()
        return QueryResult(
            columns=columns,
            rows=[[_plain(v) for v in row] for row in rows[: self.max_rows]],
            row_count=min(len(rows), self.max_rows),
            truncated=len(rows) > self.max_rows,
        )

    async def query(self, sql: str) -> QueryResult:
        """Check and run ``sql`` in a worker thread, interrupted after ``timeout_s``."""
        self.check(sql)
        con = self.connect()
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.fetch, con, sql), self.timeout_s)
        except TimeoutError:
            with contextlib.suppress(duckdb.Error):  # it may have finished just now
                con.interrupt()
            raise ToolError(
                f"the query ran longer than {self.timeout_s:g}s and was stopped; "
                "narrow it with WHERE or aggregate"
            ) from None
        except duckdb.Error as exc:
            raise ToolError(f"the query failed: {exc}") from None

    def describe(self) -> list[TableInfo]:
        with self.connect() as con:
            return [
                TableInfo(
                    table=table,
                    columns=[
                        [name, str(kind)]
                        for name, kind in con.execute(
                            "SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = ? ORDER BY ordinal_position",
                            [table],
                        ).fetchall()
                    ],
                )
                for table in self.tables
            ]


def _walk(node: Any, ctes: set[str], tables: set[str]) -> None:
    """Collect the CTE names and the tables a serialized syntax tree reads."""
    if isinstance(node, list):
        for item in node:
            _walk(item, ctes, tables)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "TABLE_FUNCTION":
        raise ToolError("table functions are not allowed; select from the tables directly")
    if node.get("type") == "BASE_TABLE":
        schema, name = node.get("schema_name") or "", str(node.get("table_name")).lower()
        qualified = f"{schema}.{name}" if schema and schema != "main" else name
        tables.add(qualified)
    if isinstance(node.get("cte_map"), dict):
        ctes.update(str(e.get("key")).lower() for e in node["cte_map"].get("map") or ())
    for value in node.values():
        _walk(value, ctes, tables)


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON: dates as ISO text, decimals as floats."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def build_server(warehouse: Warehouse) -> MCPServer[Any]:
    """An MCP server with the tools ``list_tables`` and ``query`` over ``warehouse``."""
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        instructions="Read-only SQL over the plant's assets, maintenance history and parts.",
        log_level="WARNING",
    )

    def list_tables() -> list[TableInfo]:
        """The tables you may query, with their columns and SQL types."""
        return warehouse.describe()

    async def query(sql: str) -> QueryResult:
        """Run one read-only SELECT (DuckDB SQL) over the allowed tables.

        Tables: assets (machine_id, model, site, line, installed_on, criticality),
        maintenance_history (machine_id, performed_on, kind, part_id, downtime_h, notes),
        parts (part_id, name, fits_model, failure_mode, stock, lead_time_days).
        At most max_rows rows come back; `truncated` says when there were more.
        """
        return await warehouse.query(sql)

    for tool in (list_tables, query):
        server.add_tool(tool, description=inspect.getdoc(tool))
    return server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.tools.warehouse_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: let the system choose")
    parser.add_argument("--db", type=Path, required=True, help="DuckDB file; built if missing")
    parser.add_argument("--tables", default=",".join(ALLOWED_TABLES), help="allowed tables")
    parser.add_argument("--max-rows", type=int, default=200)
    parser.add_argument("--timeout-s", type=float, default=5.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m jobs.tools.warehouse_server`."""
    args = _parser().parse_args(argv)
    log_to_stderr()
    if not args.db.exists():
        build_warehouse(args.db)
    tables = tuple(t.strip().lower() for t in args.tables.split(",") if t.strip())
    warehouse = Warehouse(args.db, tables, args.max_rows, args.timeout_s)
    log.info("serving %s (tables %s) over %s", args.db, ", ".join(tables), args.transport)
    return run(build_server(warehouse), args.transport, args.host, args.port, "warehouse-server")


if __name__ == "__main__":
    sys.exit(main())
