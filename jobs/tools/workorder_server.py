"""MCP tool server of the maintenance demo: work orders, standing in for a ticketing system.

Three operations, each enabled by ``--allow`` (default all): ``create_work_order``,
``update_work_order`` and ``lookup_work_orders``. An operation left out is not offered,
and a call to it is refused. Every change carries the caller's ``request_id``: a call
repeated with the same id (a retry, a replay) returns the first call's result and changes
nothing; the same id with other arguments is refused. Each action writes an audit row in
the same transaction as the action, so the audit trail and the work orders never disagree.

    python -m jobs.tools.workorder_server --transport stdio --db PATH [--allow create,lookup]
    python -m jobs.tools.workorder_server --transport http --port 0 --db PATH

State is a SQLite file shared by every server process on it (one per Flink worker), so a
retry that lands on another worker is still recognised. Logs go to stderr; in HTTP mode one
stdout line ``workorder-server listening on http://HOST:PORT/mcp`` says it is ready.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from typing_extensions import TypedDict

from jobs.tools.customer_server import log_to_stderr, run

log = logging.getLogger("workorder_server")

SERVER_NAME = "work-orders"
OPERATIONS = ("create", "update", "lookup")
Priority = Literal["P1", "P2", "P3", "P4"]
Status = Literal["open", "in_progress", "closed"]
RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="the caller's id for this action; a retry with the same id does nothing new",
    ),
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS work_orders (
    work_order_id TEXT PRIMARY KEY, machine_id TEXT NOT NULL, title TEXT NOT NULL,
    priority TEXT NOT NULL, status TEXT NOT NULL, description TEXT NOT NULL,
    anomaly_id TEXT, notes TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY, operation TEXT NOT NULL, arguments TEXT NOT NULL,
    result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, operation TEXT NOT NULL,
    request_id TEXT, work_order_id TEXT, machine_id TEXT, detail TEXT NOT NULL);
"""


class WorkOrder(TypedDict):
    """A work order; ``notes`` are the updates so far, oldest first."""

    work_order_id: str
    machine_id: str
    title: str
    priority: str
    status: str
    description: str
    anomaly_id: str | None
    notes: list[str]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class WorkOrders:
    """The work-order store in the SQLite file ``db``."""

    db: Path

    def setup(self) -> None:
        """Create the folder, the file and the tables if missing (several servers may race)."""
        self.db.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.db, timeout=30)) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading so concurrent retries serialise."""
        con = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    def create(
        self,
        request_id: str,
        machine_id: str,
        title: str,
        priority: str,
        description: str,
        anomaly_id: str | None,
    ) -> WorkOrder:
        arguments = {
            "machine_id": machine_id,
            "title": title,
            "priority": priority,
            "description": description,
            "anomaly_id": anomaly_id,
        }
        with self._transaction() as con:
            done = _replayed(con, request_id, "create", arguments)
            if done is not None:
                return done
            (count,) = con.execute("SELECT COUNT(*) FROM work_orders").fetchone()
            order = WorkOrder(
                work_order_id=f"WO-{count + 1:06d}",
                notes=[],
                status="open",
                created_at=time.time(),
                updated_at=time.time(),
                **arguments,  # type: ignore[typeddict-item]
            )
            con.execute(
                "INSERT INTO work_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [*_row(order)],
            )
            return _record(con, request_id, "create", arguments, order)

    def update(
        self,
        request_id: str,
        work_order_id: str,
        status: str | None,
        priority: str | None,
        note: str | None,
    ) -> WorkOrder:
        arguments = {
            "work_order_id": work_order_id,
            "status": status,
            "priority": priority,
            "note": note,
        }
        with self._transaction() as con:
            done = _replayed(con, request_id, "update", arguments)
            if done is not None:
                return done
            order = _load(con, work_order_id)
            if order is None:
                raise ToolError(f"no work order {work_order_id!r}; look it up by machine_id")
            order["status"] = status or order["status"]
            order["priority"] = priority or order["priority"]
            order["notes"] = [*order["notes"], *([note] if note else [])]
            order["updated_at"] = time.time()
            con.execute(
                "UPDATE work_orders SET status = ?, priority = ?, notes = ?, updated_at = ? "
                "WHERE work_order_id = ?",
                [
                    order["status"],
                    order["priority"],
                    json.dumps(order["notes"]),
                    order["updated_at"],
                    work_order_id,
                ],
            )
            return _record(con, request_id, "update", arguments, order)

    def lookup(self, machine_id: str, status: str | None) -> list[WorkOrder]:
        with self._transaction() as con:
            rows = con.execute(
                "SELECT work_order_id FROM work_orders WHERE machine_id = ? "
                "AND (? IS NULL OR status = ?) ORDER BY created_at",
                [machine_id, status, status],
            ).fetchall()
            found = [o for (wid,) in rows if (o := _load(con, wid)) is not None]
            _audit(con, "lookup", None, None, machine_id, {"status": status, "found": len(found)})
        return found


def _replayed(
    con: sqlite3.Connection, request_id: str, operation: str, arguments: dict[str, Any]
) -> WorkOrder | None:
    """The stored result of an earlier call with this id, or None if there was none."""
    row = con.execute(
        "SELECT operation, arguments, result FROM requests WHERE request_id = ?", [request_id]
    ).fetchone()
    if row is None:
        return None
    if row["operation"] != operation or json.loads(row["arguments"]) != arguments:
        raise ToolError(
            f"request_id {request_id!r} was already used for a different {row['operation']} "
            "call; use a new request_id for a new action"
        )
    order: WorkOrder = json.loads(row["result"])
    _audit(con, f"{operation}.replayed", request_id, order["work_order_id"], None, {})
    return order


def _record(
    con: sqlite3.Connection,
    request_id: str,
    operation: str,
    arguments: dict[str, Any],
    order: WorkOrder,
) -> WorkOrder:
    con.execute(
        "INSERT INTO requests VALUES (?, ?, ?, ?)",
        [request_id, operation, json.dumps(arguments), json.dumps(order)],
    )
    _audit(con, operation, request_id, order["work_order_id"], order["machine_id"], arguments)
    return order


def _audit(
    con: sqlite3.Connection,
    operation: str,
    request_id: str | None,
    work_order_id: str | None,
    machine_id: str | None,
    detail: dict[str, Any],
) -> None:
    con.execute(
        "INSERT INTO audit (at, operation, request_id, work_order_id, machine_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [time.time(), operation, request_id, work_order_id, machine_id, json.dumps(detail)],
    )


def _row(order: WorkOrder) -> tuple[Any, ...]:
    return (
        order["work_order_id"],
        order["machine_id"],
        order["title"],
        order["priority"],
        order["status"],
        order["description"],
        order["anomaly_id"],
        json.dumps(order["notes"]),
        order["created_at"],
        order["updated_at"],
    )


def _load(con: sqlite3.Connection, work_order_id: str) -> WorkOrder | None:
    row = con.execute(
        "SELECT * FROM work_orders WHERE work_order_id = ?", [work_order_id]
    ).fetchone()
    if row is None:
        return None
    return WorkOrder(**{**dict(row), "notes": json.loads(row["notes"])})  # type: ignore[typeddict-item]


def build_server(store: WorkOrders, allow: tuple[str, ...] = OPERATIONS) -> MCPServer[Any]:
    """An MCP server offering the operations in ``allow`` over ``store``."""
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        instructions="Work orders for plant maintenance: create, update and look them up.",
        log_level="WARNING",
    )

    def create_work_order(
        request_id: RequestId,
        machine_id: str,
        title: str,
        priority: Priority,
        description: str = "",
        anomaly_id: str | None = None,
    ) -> WorkOrder:
        """Open a work order for a machine (P1 most urgent).

        Give a request_id that names this action (e.g. the anomaly id): calling again with
        the same request_id returns the same work order instead of opening a second one.
        """
        return store.create(request_id, machine_id, title, priority, description, anomaly_id)

    def update_work_order(
        request_id: RequestId,
        work_order_id: str,
        status: Status | None = None,
        priority: Priority | None = None,
        note: str | None = None,
    ) -> WorkOrder:
        """Change a work order's status or priority, or add a note to it.

        A repeated request_id returns the first result and changes nothing.
        """
        return store.update(request_id, work_order_id, status, priority, note)

    def lookup_work_orders(machine_id: str, status: Status | None = None) -> list[WorkOrder]:
        """The work orders of a machine, oldest first, optionally only those in a status."""
        return store.lookup(machine_id, status)

    tools = {
        "create": create_work_order,
        "update": update_work_order,
        "lookup": lookup_work_orders,
    }
    for operation in allow:
        tool = tools[operation]
        server.add_tool(tool, description=inspect.getdoc(tool))
    return server


def _operations(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(op.strip() for op in text.split(",") if op.strip()))
    unknown = [op for op in chosen if op not in OPERATIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown operation {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(OPERATIONS)}"
        )
    return chosen


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.tools.workorder_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: let the system choose")
    parser.add_argument("--db", type=Path, required=True, help="SQLite file; created if missing")
    parser.add_argument(
        "--allow", type=_operations, default=OPERATIONS, help="create,update,lookup (default all)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m jobs.tools.workorder_server`."""
    args = _parser().parse_args(argv)
    log_to_stderr()
    store = WorkOrders(args.db)
    try:
        store.setup()
    except (OSError, sqlite3.Error) as exc:
        log.error("cannot open the work-order database %s: %s", args.db, exc)
        return 1
    log.info("serving %s (%s) over %s", args.db, ", ".join(args.allow), args.transport)
    return run(
        build_server(store, args.allow), args.transport, args.host, args.port, "workorder-server"
    )


if __name__ == "__main__":
    sys.exit(main())
