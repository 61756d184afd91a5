"""MCP tool server of the fraud demo: customer profiles, card history and merchant risk.

Serves three read-only tools over the SQLite world of `jobs.tools.fraud_data`, over stdio (the
client starts it) or streamable HTTP at /mcp::

    python -m jobs.tools.customer_server --transport stdio [--db PATH]
    python -m jobs.tools.customer_server --transport http --host 127.0.0.1 --port 8765

The database comes from --db, else $FRAUD_DB, else .flink-agents/demo/fraud.db, and is built
first if missing. Logs go to stderr only: in stdio mode stdout carries the protocol. In HTTP
mode the one stdout line ``customer-server listening on http://HOST:PORT/mcp`` says it is
ready (with --port 0 the port is the one the system chose).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import logging
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.applications import Starlette

# typing_extensions, not typing: on Python 3.11 pydantic builds output schemas only from it.
from typing_extensions import TypedDict

from jobs.tools.fraud_data import CURRENCY, connect_read_only, default_db_path, ensure_database

log = logging.getLogger("customer_server")

SERVER_NAME = "fraud-customer-data"
MAX_RECENT = 50


class CustomerProfile(TypedDict):
    """A card's holder and spending profile (amounts in EUR)."""

    card_id: str
    customer_id: str
    customer_name: str
    home_country: str
    account_age_days: int
    credit_limit: float
    currency: str
    typical_spend_mean: float
    typical_spend_std: float
    past_transaction_count: int


class PastTransaction(TypedDict):
    """One past transaction of a card."""

    transaction_id: str
    card_id: str
    merchant_id: str
    amount: float
    currency: str
    country: str
    timestamp: str


class MerchantRisk(TypedDict):
    """A merchant and its risk (risk_score in 0..1; flagged_reason null when not flagged)."""

    merchant_id: str
    name: str
    category: str
    mcc: str
    country: str
    online: bool
    risk_score: float
    flagged_reason: str | None


# --- queries ------------------------------------------------------------------------------
# Each tool call opens its own read-only connection: the SDK runs sync tools in worker
# threads, and a sqlite3 connection must not be shared between threads.


def load_profile(db: Path, card_id: str) -> CustomerProfile:
    """The profile of a card; ToolError if the card does not exist."""
    with contextlib.closing(connect_read_only(db)) as conn:
        row = conn.execute("SELECT * FROM cards WHERE card_id = ?", (card_id,)).fetchone()
        if row is None:
            raise ToolError(f"unknown card_id {card_id!r}")
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM past_transactions WHERE card_id = ?", (card_id,)
        ).fetchone()
    return CustomerProfile(
        card_id=row["card_id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        home_country=row["home_country"],
        account_age_days=row["account_age_days"],
        credit_limit=row["credit_limit"],
        currency=CURRENCY,
        typical_spend_mean=row["spend_mean"],
        typical_spend_std=row["spend_std"],
        past_transaction_count=count,
    )


def load_recent(db: Path, card_id: str, limit: int) -> list[PastTransaction]:
    """The card's `limit` newest past transactions, newest first; ToolError if no such card."""
    with contextlib.closing(connect_read_only(db)) as conn:
        if conn.execute("SELECT 1 FROM cards WHERE card_id = ?", (card_id,)).fetchone() is None:
            raise ToolError(f"unknown card_id {card_id!r}")
        rows = conn.execute(
            "SELECT transaction_id, card_id, merchant_id, amount, currency, country, timestamp"
            " FROM past_transactions WHERE card_id = ?"
            " ORDER BY timestamp DESC, transaction_id DESC LIMIT ?",
            (card_id, limit),
        ).fetchall()
    # The query selects exactly the fields of PastTransaction.
    return [cast(PastTransaction, dict(row)) for row in rows]


def load_merchant(db: Path, merchant_id: str) -> MerchantRisk:
    """A merchant's risk record; ToolError if the merchant does not exist."""
    with contextlib.closing(connect_read_only(db)) as conn:
        row = conn.execute(
            "SELECT * FROM merchants WHERE merchant_id = ?", (merchant_id,)
        ).fetchone()
    if row is None:
        raise ToolError(f"unknown merchant_id {merchant_id!r}")
    # The table's columns are the fields of MerchantRisk; SQLite stores booleans as 0/1.
    return cast(MerchantRisk, {**dict(row), "online": bool(row["online"])})


# --- server -------------------------------------------------------------------------------


def build_server(db: Path) -> MCPServer[Any]:
    """An MCP server whose tools read the fraud database at `db`."""
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        instructions=(
            "Read-only facts for card-fraud triage: who holds a card and how they usually "
            "spend, the card's recent transactions, and how risky a merchant is."
        ),
        log_level="WARNING",
    )

    def customer_profile(card_id: str) -> CustomerProfile:
        """Profile of the customer holding a card (e.g. card_id "card-0042").

        Returns the customer's name and id, home country, account age in days, credit
        limit, typical spend per transaction (mean and standard deviation, EUR) and how many
        past transactions the card has. Compare a new transaction's amount with the typical
        spend and its country with the home country.
        """
        return load_profile(db, card_id)

    def recent_transactions(
        card_id: str,
        limit: Annotated[int, Field(ge=1, le=MAX_RECENT)] = 10,
    ) -> list[PastTransaction]:
        """The card's most recent past transactions, newest first (at most `limit`, 1-50).

        Each has transaction_id, merchant_id, amount (EUR), currency, country and timestamp
        (ISO 8601 UTC). Use it to see the card's usual merchants, countries and amounts.
        """
        return load_recent(db, card_id, limit)

    def merchant_risk(merchant_id: str) -> MerchantRisk:
        """Risk record of a merchant (e.g. merchant_id "m-007").

        Returns its name, category and MCC, country, whether it sells online, a risk score
        from 0 (safe) to 1 (risky; 0.8 and above is high risk) and the reason it was flagged,
        or null when it was not.
        """
        return load_merchant(db, merchant_id)

    for tool in (customer_profile, recent_transactions, merchant_risk):
        # The SDK would take __doc__ verbatim; the model reads it better without the indent.
        server.add_tool(tool, description=inspect.getdoc(tool))
    return server


def http_app(server: MCPServer[Any], host: str, port: int) -> Starlette:
    """The streamable HTTP app at /mcp, accepting Host 127.0.0.1/localhost/`host` at `port`."""
    hosts = dict.fromkeys([host, "127.0.0.1", "localhost"])
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:{port}" for name in hosts],
        allowed_origins=[f"http://{name}:{port}" for name in hosts],
    )
    return server.streamable_http_app(
        streamable_http_path="/mcp", transport_security=security, host=host
    )


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints one line on stdout once it accepts connections."""

    def __init__(self, config: uvicorn.Config, announcement: str) -> None:
        super().__init__(config)
        self.announcement = announcement

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # `started` stays False when startup failed; then a ready line would be a lie.
        if self.started:
            print(self.announcement, flush=True)


async def serve_http(
    server: MCPServer[Any], host: str, port: int, name: str = "customer-server"
) -> None:
    """Serve over streamable HTTP at http://host:port/mcp until interrupted; once it accepts
    connections, print ``<name> listening on http://HOST:PORT/mcp`` on stdout."""
    # Binding first tells the real port (for --port 0) before the Host allow-list is made.
    sock = socket.create_server((host, port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        http_app(server, host, port),
        log_config=None,  # stay on the root logger (stderr); uvicorn's default logs to stdout
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    announcement = f"{name} listening on http://{host}:{port}/mcp"
    await _AnnouncingServer(config, announcement).serve(sockets=[sock])


def run(server: MCPServer[Any], transport: str, host: str, port: int, name: str) -> int:
    """Serve over ``transport`` (stdio or http) until the client or a signal ends it; the exit
    code of a server's ``main``. The demo's tool servers all end their ``main`` here."""
    if transport == "stdio":
        server.run("stdio")
        return 0
    try:
        asyncio.run(serve_http(server, host, port, name=name))
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc)
        return 1
    return 0


def log_to_stderr() -> None:
    """Log to stderr: on stdio, stdout carries the protocol and nothing else."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.tools.customer_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0: let the system choose")
    parser.add_argument(
        "--db", type=Path, default=None, help="default: $FRAUD_DB or .flink-agents/demo/fraud.db"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m jobs.tools.customer_server`."""
    args = _parser().parse_args(argv)
    log_to_stderr()
    try:
        db = ensure_database(args.db or default_db_path())
    except (OSError, sqlite3.Error) as exc:
        log.error("cannot open or build the fraud database: %s", exc)
        return 1
    log.info("serving %s over %s", db, args.transport)
    return run(build_server(db), args.transport, args.host, args.port, "customer-server")


if __name__ == "__main__":
    sys.exit(main())
