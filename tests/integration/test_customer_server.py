"""The customer MCP server, run for real over stdio and streamable HTTP.

Every tool is called through the official MCP client and its answers are checked against
rows read straight from the SQLite database the server was given.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import psutil
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from flink_agents.testing import stop_process
from jobs.tools.fraud_data import SCHEMA_VERSION, build_database, schema_version
from tests.support import start_mcp_http

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODULE = "jobs.tools.customer_server"
STARTUP_S = 30.0
SESSION_S = 60.0
READY = re.compile(r"customer-server listening on (http://127\.0\.0\.1:(\d+)/mcp)")

T = TypeVar("T")


@pytest.fixture(scope="module")
def fraud_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_database(tmp_path_factory.mktemp("customer-server") / "fraud.db")


def _rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


# --- starting and stopping servers --------------------------------------------------------


@dataclass(frozen=True)
class HttpServer:
    url: str
    port: int
    log: Path


@pytest.fixture(scope="module")
def http_server(fraud_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """The server over streamable HTTP on a port the system picks when it binds (no race)."""
    log = tmp_path_factory.mktemp("http-server") / "server.log"
    args = ["--host", "127.0.0.1", "--port", "0", "--db", str(fraud_db)]
    process, match = start_mcp_http(MODULE, args, log, STARTUP_S, ready=READY)
    try:
        yield HttpServer(url=match[1], port=int(match[2]), log=log)
    finally:
        stop_process(process)


def _stdio_servers() -> list[psutil.Process]:
    """Stdio server processes started by this test process (and not yet gone)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = child.cmdline()
            if MODULE in command and "stdio" in command:
                found.append(child)
        except psutil.Error:
            continue  # it ended while we looked
    return found


@pytest.fixture(params=["stdio", "http"])
def open_client(
    request: pytest.FixtureRequest, http_server: HttpServer, fraud_db: Path, tmp_path: Path
) -> Iterator[Callable[[], Client]]:
    """Makes clients of one server: a stdio server per client, or the shared HTTP server."""
    # http_server is a parameter, not looked up on demand: pytest would tie the module-wide
    # server to this parametrized fixture and tear it down when the parameter changes.
    if request.param == "http":
        yield lambda: Client(http_server.url)
        return
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", MODULE, "--transport", "stdio", "--db", str(fraud_db)],
        cwd=ROOT,
    )
    with (tmp_path / "stdio-server.log").open("w") as errlog:
        try:
            yield lambda: Client(stdio_client(params, errlog=errlog))
        finally:
            # The client stops its server when it closes; this catches one that survived.
            leftovers = _stdio_servers()
            for process in leftovers:
                process.kill()
            psutil.wait_procs(leftovers, timeout=10)


def session(open_client: Callable[[], Client], body: Callable[[Client], Awaitable[T]]) -> T:
    """Connect (the handshake is the readiness check), run `body`, close; all in a deadline."""

    async def main() -> T:
        with anyio.fail_after(SESSION_S):
            async with open_client() as client:
                return await body(client)

    return anyio.run(main)


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


# --- the tools, over both transports ------------------------------------------------------


def test_lists_three_tools_with_descriptions_and_typed_inputs(open_client):
    async def body(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in session(open_client, body)}
    assert set(tools) == {"customer_profile", "recent_transactions", "merchant_risk"}
    assert all(tool.description and "\n    " not in tool.description for tool in tools.values())
    profile, recent = (
        tools["customer_profile"].input_schema,
        tools["recent_transactions"].input_schema,
    )
    assert profile["properties"]["card_id"]["type"] == "string"
    assert profile["required"] == ["card_id"]
    assert recent["properties"]["limit"]["type"] == "integer"
    assert recent["properties"]["limit"]["default"] == 10
    assert recent["required"] == ["card_id"]
    assert tools["merchant_risk"].input_schema["required"] == ["merchant_id"]


def test_customer_profile_matches_the_database(open_client, fraud_db: Path):
    card_ids = ["card-0001", "card-0042", "card-0200"]

    async def body(client: Client) -> list[Any]:
        return [await client.call_tool("customer_profile", {"card_id": c}) for c in card_ids]

    for card_id, result in zip(card_ids, session(open_client, body), strict=True):
        (row,) = _rows(fraud_db, "SELECT * FROM cards WHERE card_id = ?", card_id)
        (count,) = _rows(
            fraud_db, "SELECT COUNT(*) AS n FROM past_transactions WHERE card_id = ?", card_id
        )
        assert not result.is_error
        assert result.structured_content == {
            "card_id": card_id,
            "customer_id": row["customer_id"],
            "customer_name": row["customer_name"],
            "home_country": row["home_country"],
            "account_age_days": row["account_age_days"],
            "credit_limit": row["credit_limit"],
            "currency": "EUR",
            "typical_spend_mean": row["spend_mean"],
            "typical_spend_std": row["spend_std"],
            "past_transaction_count": count["n"],
        }
        assert json.loads(_text(result)) == result.structured_content


def test_recent_transactions_are_newest_first_and_honour_limit(open_client, fraud_db: Path):
    counts = _rows(
        fraud_db, "SELECT card_id, COUNT(*) AS n FROM past_transactions GROUP BY card_id"
    )
    busy = next(r["card_id"] for r in counts if r["n"] >= 15)
    quiet = next(r["card_id"] for r in counts if r["n"] < 10)

    async def body(client: Client) -> list[Any]:
        return [
            await client.call_tool("recent_transactions", {"card_id": busy, "limit": 4}),
            await client.call_tool("recent_transactions", {"card_id": busy}),
            await client.call_tool("recent_transactions", {"card_id": quiet, "limit": 50}),
        ]

    four, default, everything = (r.structured_content["result"] for r in session(open_client, body))
    expected = _rows(
        fraud_db,
        "SELECT transaction_id, card_id, merchant_id, amount, currency, country, timestamp"
        " FROM past_transactions WHERE card_id = ? ORDER BY timestamp DESC",
        busy,
    )
    assert four == expected[:4]
    assert default == expected[:10]
    stamps = [tx["timestamp"] for tx in default]
    assert stamps == sorted(stamps, reverse=True)
    assert {tx["card_id"] for tx in everything} == {quiet}
    assert len(everything) == next(r["n"] for r in counts if r["card_id"] == quiet)


def test_merchant_risk_matches_the_database(open_client, fraud_db: Path):
    merchants = _rows(fraud_db, "SELECT * FROM merchants ORDER BY risk_score DESC")
    riskiest, safest = merchants[0], merchants[-1]

    async def body(client: Client) -> list[Any]:
        return [
            await client.call_tool("merchant_risk", {"merchant_id": m["merchant_id"]})
            for m in (riskiest, safest)
        ]

    risky, safe = (r.structured_content for r in session(open_client, body))
    assert risky == {**riskiest, "online": bool(riskiest["online"])}
    assert risky["risk_score"] >= 0.8
    assert risky["flagged_reason"]
    assert safe["merchant_id"] == safest["merchant_id"]
    assert safe["risk_score"] == safest["risk_score"]
    assert safe["flagged_reason"] is None


def test_unknown_ids_are_tool_errors_that_name_them(open_client):
    async def body(client: Client) -> list[Any]:
        return [
            await client.call_tool("customer_profile", {"card_id": "card-9999"}),
            await client.call_tool("recent_transactions", {"card_id": "card-9999"}),
            await client.call_tool("merchant_risk", {"merchant_id": "m-999"}),
            await client.call_tool("recent_transactions", {"card_id": "card-0001", "limit": 0}),
            # The session survives the errors above.
            await client.call_tool("customer_profile", {"card_id": "card-0001"}),
        ]

    profile, recent, merchant, bad_limit, after = session(open_client, body)
    assert profile.is_error and "unknown card_id 'card-9999'" in _text(profile)
    assert recent.is_error and "unknown card_id 'card-9999'" in _text(recent)
    assert merchant.is_error and "unknown merchant_id 'm-999'" in _text(merchant)
    assert bad_limit.is_error and "limit" in _text(bad_limit)
    assert not after.is_error and after.structured_content["card_id"] == "card-0001"


# --- transport specifics ------------------------------------------------------------------


def test_http_answers_concurrent_calls(http_server: HttpServer, fraud_db: Path):
    card_ids = [f"card-{i:04d}" for i in range(1, 41)]
    names = {r["card_id"]: r["customer_name"] for r in _rows(fraud_db, "SELECT * FROM cards")}

    async def body(client: Client) -> dict[str, str]:
        answers: dict[str, str] = {}

        async def ask(card_id: str) -> None:
            result = await client.call_tool("customer_profile", {"card_id": card_id})
            answers[card_id] = result.structured_content["customer_name"]

        async with anyio.create_task_group() as group:
            for card_id in card_ids:
                group.start_soon(ask, card_id)
        return answers

    answers = session(lambda: Client(http_server.url), body)
    assert answers == {card_id: names[card_id] for card_id in card_ids}


def test_http_accepts_only_local_host_headers(http_server: HttpServer):
    hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    with httpx.Client(timeout=10) as web:
        evil = web.post(http_server.url, json=hello, headers={**headers, "host": "evil.example"})
        local = web.post(
            http_server.url,
            json=hello,
            headers={**headers, "host": f"localhost:{http_server.port}"},
        )
    assert evil.status_code == 421
    assert local.status_code != 421


def test_stdio_keeps_stdout_clean_and_builds_a_missing_database(tmp_path: Path):
    db = tmp_path / "fresh" / "fraud.db"
    env = {**os.environ, "FRAUD_DB": str(db)}
    # With stdin closed at once the server starts, finds end of input and exits.
    done = subprocess.run(
        [sys.executable, "-m", MODULE, "--transport", "stdio"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=STARTUP_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    assert schema_version(db) == SCHEMA_VERSION
    assert str(db) in done.stderr.decode()
