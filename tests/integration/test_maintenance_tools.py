"""The maintenance demo's MCP servers, run for real over stdio through the MCP client:
the warehouse refuses what is not a read of an allowed table, and the work-order server
does each action once per request id, with an audit row for each."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import duckdb
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from jobs.tools.plant_data import build_warehouse

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("warehouse") / "plant.duckdb", machines=4)


def call(module: str, args: list[str], log: Path, body: Callable[[Client], Awaitable[T]]) -> T:
    """Start ``python -m module --transport stdio args`` as the client's server, run ``body``."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", module, "--transport", "stdio", *args], cwd=ROOT
    )

    async def main() -> T:
        with log.open("a") as errlog, anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=errlog)) as client:
                return await body(client)

    return anyio.run(main)


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


def _reason(result: Any) -> str:
    """A tool error's message without the SDK's ``Error executing tool NAME:`` prefix."""
    return _text(result).split(": ", 1)[-1]


def query(warehouse: Path, tmp_path: Path, *sqls: str, extra: list[str] | None = None) -> list[Any]:
    async def body(client: Client) -> list[Any]:
        return [await client.call_tool("query", {"sql": sql}) for sql in sqls]

    args = ["--db", str(warehouse), *(extra or [])]
    return call("jobs.tools.warehouse_server", args, tmp_path / "warehouse.log", body)


def test_the_warehouse_answers_a_select_with_the_rows_in_the_database(warehouse, tmp_path):
    sql = "SELECT machine_id, model, criticality FROM assets ORDER BY machine_id"
    [result] = query(warehouse, tmp_path, sql)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = [list(row) for row in con.execute(sql).fetchall()]
    assert not result.is_error
    assert result.structured_content == {
        "columns": ["machine_id", "model", "criticality"],
        "rows": expected,
        "row_count": 4,
        "truncated": False,
    }


def test_the_warehouse_refuses_writes_other_tables_and_table_functions(warehouse, tmp_path):
    refused = query(
        warehouse,
        tmp_path,
        "INSERT INTO assets VALUES ('m-99', 'X', 'Lyon', 1, DATE '2020-01-01', 'A')",
        "DROP TABLE parts",
        "SELECT * FROM supplier_contracts",
        "SELECT part_id FROM parts WHERE part_id IN (SELECT part_id FROM supplier_contracts)",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT 1; SELECT 2",
    )
    not_allowed = "table supplier_contracts is not allowed; allowed: "
    assert [(r.is_error, _reason(r)) for r in refused] == [
        (True, "only SELECT is allowed, not INSERT"),
        (True, "only SELECT is allowed, not DROP"),
        (True, not_allowed + "assets, maintenance_history, parts"),
        (True, not_allowed + "assets, maintenance_history, parts"),
        (True, "table functions are not allowed; select from the tables directly"),
        (True, "send exactly one SELECT statement (got 2)"),
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM assets").fetchone() == (4,)
        assert con.execute("SELECT COUNT(*) FROM parts").fetchone() == (9,)


def test_the_warehouse_stops_at_the_row_limit_and_the_timeout(warehouse, tmp_path):
    endless = (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 2000000000) "
        "SELECT COUNT(*) FROM t"
    )
    rows, slow = query(
        warehouse,
        tmp_path,
        "SELECT * FROM parts",
        endless,
        extra=["--max-rows", "5", "--timeout-s", "1"],
    )
    assert rows.structured_content["row_count"] == 5
    assert rows.structured_content["truncated"] is True
    assert slow.is_error and _reason(slow).startswith(
        "the query ran longer than 1s and was stopped"
    )


# --- work orders ----------------------------------------------------------------------------


def _audit(db: Path) -> list[tuple[str, str | None, str | None]]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute(
            "SELECT operation, request_id, work_order_id FROM audit ORDER BY seq"
        ).fetchall()


def _orders(db: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT work_order_id, machine_id FROM work_orders").fetchall()


CREATE = {
    "request_id": "m-02/31",
    "machine_id": "m-02",
    "title": "bearing wear suspected on m-02",
    "priority": "P2",
    "anomaly_id": "m-02/31",
}


def test_a_retried_create_returns_the_first_work_order_and_creates_no_second(tmp_path):
    db = tmp_path / "workorders.db"

    async def body(client: Client) -> list[Any]:
        first = await client.call_tool("create_work_order", CREATE)
        again = await client.call_tool("create_work_order", CREATE)
        other = await client.call_tool("create_work_order", {**CREATE, "priority": "P1"})
        return [first, again, other]

    log = tmp_path / "wo.log"
    first, again, other = call("jobs.tools.workorder_server", ["--db", str(db)], log, body)
    # A retry from another server process (another Flink worker) is recognised too.
    later = call(
        "jobs.tools.workorder_server",
        ["--db", str(db)],
        log,
        lambda client: client.call_tool("create_work_order", CREATE),
    )
    assert not first.is_error and first.structured_content["work_order_id"] == "WO-000001"
    assert again.structured_content == first.structured_content
    assert later.structured_content == first.structured_content
    assert other.is_error and "request_id 'm-02/31' was already used" in _text(other)
    assert _orders(db) == [("WO-000001", "m-02")]
    assert _audit(db) == [
        ("create", "m-02/31", "WO-000001"),
        ("create.replayed", "m-02/31", "WO-000001"),
        ("create.replayed", "m-02/31", "WO-000001"),
    ]


def test_updates_and_lookups_act_once_per_request_and_are_audited(tmp_path):
    db = tmp_path / "workorders.db"
    update = {"request_id": "u-1", "work_order_id": "WO-000001", "priority": "P1", "note": "worse"}

    async def body(client: Client) -> list[Any]:
        await client.call_tool("create_work_order", CREATE)
        return [
            await client.call_tool("update_work_order", update),
            await client.call_tool("update_work_order", update),
            await client.call_tool("update_work_order", {**update, "work_order_id": "WO-9"}),
            await client.call_tool("lookup_work_orders", {"machine_id": "m-02"}),
        ]

    args = ["--db", str(db)]
    updated, retried, missing, found = call(
        "jobs.tools.workorder_server", args, tmp_path / "wo.log", body
    )
    assert (updated.structured_content["priority"], updated.structured_content["notes"]) == (
        "P1",
        ["worse"],
    )
    assert retried.structured_content == updated.structured_content  # one note, not two
    assert missing.is_error and "request_id 'u-1' was already used" in _text(missing)
    [order] = found.structured_content["result"]
    assert order["notes"] == ["worse"] and order["priority"] == "P1"
    assert [a[0] for a in _audit(db)] == ["create", "update", "update.replayed", "lookup"]


def test_operations_left_out_of_the_allow_list_are_not_offered_and_refused(tmp_path):
    db = tmp_path / "workorders.db"

    async def body(client: Client) -> tuple[list[str], Any]:
        names = [t.name for t in (await client.list_tools()).tools]
        return names, await client.call_tool("create_work_order", CREATE)

    args = ["--db", str(db), "--allow", "lookup"]
    names, refused = call("jobs.tools.workorder_server", args, tmp_path / "wo.log", body)
    assert names == ["lookup_work_orders"]
    assert refused.is_error and "create_work_order" in _text(refused)
    assert _orders(db) == []
