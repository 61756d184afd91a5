"""A small, deterministic card-fraud world for the fraud-triage demo, stored in SQLite.

The world holds 200 cards (a few customers hold two), 60 merchants (a handful high-risk and
flagged) and 5-40 past transactions per card. `sample_transactions` makes new incoming
transactions against the same world: mostly ordinary, some clearly suspicious, a few
borderline. Everything comes from seeded generators and fixed dates, never from the clock,
so the same seeds give the same rows and the same database bytes.

    python -m jobs.tools.fraud_data build --db .flink-agents/demo/fraud.db
    python -m jobs.tools.fraud_data sample --n 300 --seed 11
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import random
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DEFAULT_WORLD_SEED = 7
DEFAULT_SAMPLE_SEED = 11
DEFAULT_DB_PATH = Path(".flink-agents/demo/fraud.db")
DB_ENV_VAR = "FRAUD_DB"
CURRENCY = "EUR"

CARD_COUNT = 200
HIGH_RISK = 0.8
HISTORY_START = datetime(2025, 1, 1, tzinfo=UTC)
# The incoming stream starts after the last past transaction, so history never overlaps it.
STREAM_START = datetime(2025, 4, 1, 7, 0, tzinfo=UTC)

HOME_COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "AT", "BE", "IE")
TRAVEL_COUNTRIES = ("PT", "GR", "HR", "GB", "US", "TH")
ONLINE_COUNTRIES = ("IE", "NL", "LU", "DE")

SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE cards (
    card_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    home_country TEXT NOT NULL,
    account_age_days INTEGER NOT NULL,
    credit_limit REAL NOT NULL,
    spend_mean REAL NOT NULL,
    spend_std REAL NOT NULL
);
CREATE TABLE merchants (
    merchant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    mcc TEXT NOT NULL,
    country TEXT NOT NULL,
    online INTEGER NOT NULL,
    risk_score REAL NOT NULL CHECK (risk_score BETWEEN 0 AND 1),
    flagged_reason TEXT
);
CREATE TABLE past_transactions (
    transaction_id TEXT PRIMARY KEY,
    card_id TEXT NOT NULL REFERENCES cards (card_id),
    merchant_id TEXT NOT NULL REFERENCES merchants (merchant_id),
    amount REAL NOT NULL,
    currency TEXT NOT NULL,
    country TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX past_transactions_by_card ON past_transactions (card_id, timestamp DESC);
"""


@dataclass(frozen=True)
class Card:
    """A payment card and the customer who holds it."""

    card_id: str
    customer_id: str
    customer_name: str
    home_country: str
    account_age_days: int
    credit_limit: float
    spend_mean: float
    spend_std: float


@dataclass(frozen=True)
class Merchant:
    """A merchant; `online` merchants take card-not-present payments from anywhere."""

    merchant_id: str
    name: str
    category: str
    mcc: str
    country: str
    online: bool
    risk_score: float
    flagged_reason: str | None


@dataclass(frozen=True)
class PastTransaction:
    """A transaction of a card's history (timestamps are ISO 8601 UTC strings)."""

    transaction_id: str
    card_id: str
    merchant_id: str
    amount: float
    currency: str
    country: str
    timestamp: str


@dataclass(frozen=True)
class World:
    """Everything the database holds, in insertion order."""

    seed: int
    cards: tuple[Card, ...]
    merchants: tuple[Merchant, ...]
    history: tuple[PastTransaction, ...]


# --- merchants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Category:
    name: str
    mcc: str
    online: bool
    risk: tuple[float, float]
    names: tuple[str, ...]
    abroad: int = 0  # how many of its in-store merchants sit in a travel country


_CATEGORIES = (
    _Category(
        "grocery",
        "5411",
        False,
        (0.02, 0.12),
        (
            "Green Basket Market",
            "Daily Fresh",
            "Corner Grocer",
            "Harvest Foods",
            "Village Market",
            "Urban Pantry",
            "FreshWay Supermarket",
            "Mercato Verde",
        ),
    ),
    _Category(
        "restaurant",
        "5812",
        False,
        (0.03, 0.15),
        (
            "Trattoria Luna",
            "Brasserie du Parc",
            "The Copper Pot",
            "Casa Miguel",
            "Noodle House",
            "Bistro Nord",
            "Taverna Mykonos",
            "Harbour Fish Grill",
        ),
        abroad=2,
    ),
    _Category(
        "fuel",
        "5541",
        False,
        (0.05, 0.15),
        ("EuroFuel", "Autobahn Petrol", "BlueFlame Station", "Rapid Fuel", "Coastline Gas"),
    ),
    _Category(
        "pharmacy",
        "5912",
        False,
        (0.02, 0.08),
        ("Apotheke am Markt", "Pharmacie Centrale", "CityCare Pharmacy", "Farmacia Sol"),
    ),
    _Category(
        "clothing",
        "5651",
        False,
        (0.05, 0.2),
        ("Threadline", "Urban Loom", "Nordic Wear", "Moda Viva", "Denim Yard"),
    ),
    _Category(
        "electronics",
        "5732",
        False,
        (0.1, 0.3),
        ("Volt Electronics", "PixelPoint", "Circuit Corner", "Gadget Gallery"),
        abroad=1,
    ),
    _Category(
        "hotel",
        "7011",
        False,
        (0.05, 0.2),
        ("Seaview Hotel", "Grand Plaza Hotel", "Old Town Inn", "Palm Garden Resort"),
        abroad=4,
    ),
    _Category("taxi", "4121", False, (0.05, 0.2), ("CityCab", "RideNow Taxi", "MetroTaxi")),
    _Category("jewelry", "5944", False, (0.2, 0.35), ("Goldsmith & Co", "Silver Lane Jewellers")),
    _Category(
        "airline", "4511", True, (0.05, 0.15), ("SkyBridge Airlines", "AeroNova", "Polar Air")
    ),
    _Category(
        "digital_goods",
        "5815",
        True,
        (0.02, 0.1),
        ("StreamBox", "TuneCloud", "PlayVault Games", "ReadMore eBooks"),
    ),
    _Category("marketplace", "5399", True, (0.1, 0.3), ("ShopSphere", "BuyHive", "Marketline")),
)

# (name, category, mcc, country, risk score, flagged reason): all online, fixed on purpose so
# the demo always has the same few notorious merchants whatever the seed.
_RISKY_MERCHANTS = (
    ("LuckySpin Casino", "gambling", "7995", "MT", 0.86, "chargeback rate 4.2% over 90 days"),
    ("RoyalBet Online", "gambling", "7995", "CY", 0.55, None),
    (
        "CoinSwift Exchange",
        "crypto",
        "6051",
        "SC",
        0.93,
        "unlicensed crypto exchange linked to mule accounts",
    ),
    ("BitHarbor", "crypto", "6051", "EE", 0.62, "crypto purchases cannot be reversed"),
    (
        "GiftCard Depot",
        "gift_cards",
        "5947",
        "US",
        0.89,
        "card-testing pattern reported by the issuer network",
    ),
    ("MegaTech Deals Outlet", "electronics", "5732", "HK", 0.82, "many non-delivery complaints"),
    ("QuickSend Transfers", "money_transfer", "4829", "PA", 0.91, "used in recent fraud cases"),
)
_NEW_MERCHANT_COUNT = 2
_NEW_MERCHANT_REASON = "new merchant, less than 30 days of history"
# Categories bought now and then, not every week: kept out of a card's everyday merchants.
_OCCASIONAL = frozenset({"hotel", "airline", "jewelry"})
_BIG_TICKET = frozenset({"electronics", "jewelry", "airline", "marketplace"})


def _regular_merchants(rng: random.Random) -> list[Merchant]:
    """The ordinary merchants of every category, spread over home and travel countries."""
    merchants: list[Merchant] = []
    home_slot = travel_slot = 0
    travel = rng.sample(TRAVEL_COUNTRIES, len(TRAVEL_COUNTRIES))
    for category in _CATEGORIES:
        for position, name in enumerate(rng.sample(category.names, len(category.names))):
            if category.online:
                country = rng.choice(ONLINE_COUNTRIES)
            elif position < category.abroad:
                country = travel[travel_slot % len(travel)]
                travel_slot += 1
            else:
                # Round-robin so every home country has in-store merchants of its own.
                country = HOME_COUNTRIES[home_slot % len(HOME_COUNTRIES)]
                home_slot += 1
            merchants.append(
                Merchant(
                    merchant_id="",
                    name=name,
                    category=category.name,
                    mcc=category.mcc,
                    country=country,
                    online=category.online,
                    risk_score=round(rng.uniform(*category.risk), 2),
                    flagged_reason=None,
                )
            )
    return merchants


def _make_merchants(rng: random.Random) -> tuple[Merchant, ...]:
    """All merchants with ids m-001.. in a seeded order (risky ones are not all at the end)."""
    merchants = _regular_merchants(rng)
    in_store_home = [i for i, m in enumerate(merchants) if m.country in HOME_COUNTRIES]
    for i in rng.sample(in_store_home, _NEW_MERCHANT_COUNT):
        merchants[i] = replace(
            merchants[i],
            risk_score=round(rng.uniform(0.36, 0.48), 2),
            flagged_reason=_NEW_MERCHANT_REASON,
        )
    merchants += [
        Merchant("", name, category, mcc, country, True, risk, reason)
        for name, category, mcc, country, risk, reason in _RISKY_MERCHANTS
    ]
    rng.shuffle(merchants)
    return tuple(replace(m, merchant_id=f"m-{i:03d}") for i, m in enumerate(merchants, 1))


# --- cards --------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Anna", "Lukas", "Sophie", "Jonas", "Emma", "Felix", "Marie", "Paul", "Lea", "Noah",
    "Camille", "Hugo", "Chloe", "Louis", "Ines", "Jules", "Lotte", "Daan", "Sanne", "Bram",
    "Lucia", "Pablo", "Elena", "Mateo", "Giulia", "Marco", "Chiara", "Luca", "Sofia", "Matteo",
    "Niamh", "Sean", "Aoife", "Conor", "Elise", "Thomas", "Laura", "David", "Clara", "Simon",
)  # fmt: skip
_LAST_NAMES = (
    "Muller", "Schmidt", "Weber", "Fischer", "Wagner", "Becker", "Martin", "Bernard", "Dubois",
    "Laurent", "Moreau", "Janssen", "De Vries", "Bakker", "Visser", "Garcia", "Lopez", "Martinez",
    "Sanchez", "Romero", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Gruber", "Huber",
    "Bauer", "Peeters", "Maes", "Jacobs", "Murphy", "Kelly", "Byrne", "Walsh", "Ryan", "Novak",
    "Costa", "Meyer", "Hoffmann",
)  # fmt: skip
# (weight, typical spend mean range in EUR, credit limits) of frugal, regular and affluent cards.
_SPEND_TIERS = (
    (0.35, (12.0, 40.0), (1000, 1500, 2000)),
    (0.45, (40.0, 120.0), (2000, 3000, 5000)),
    (0.20, (120.0, 380.0), (5000, 8000, 10000, 15000)),
)
_SECOND_CARD_SHARE = 0.08
_NEW_ACCOUNT_SHARE = 0.08
# A limit of at least 20 typical purchases keeps even the "many times typical" amounts of
# the sample under the limit, so an amount never looks fraudulent merely by being impossible.
_LIMIT_IN_TYPICAL_PURCHASES = 20


def _new_customer(rng: random.Random, number: int) -> tuple[str, str, str, int]:
    """(customer_id, name, home country, account age in days) of a new customer."""
    name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
    new_account = rng.random() < _NEW_ACCOUNT_SHARE
    age = rng.randint(10, 89) if new_account else rng.randint(90, 4200)
    return f"cust-{number:04d}", name, rng.choice(HOME_COUNTRIES), age


def _make_cards(rng: random.Random) -> tuple[Card, ...]:
    """CARD_COUNT cards; now and then the previous customer gets a second card."""
    cards: list[Card] = []
    customer: tuple[str, str, str, int] | None = None
    customers = 0
    weights = [tier[0] for tier in _SPEND_TIERS]
    for number in range(1, CARD_COUNT + 1):
        if customer is None or rng.random() >= _SECOND_CARD_SHARE:
            customers += 1
            customer = _new_customer(rng, customers)
        _, mean_range, limits = rng.choices(_SPEND_TIERS, weights)[0]
        mean = round(rng.uniform(*mean_range), 2)
        floor = math.ceil(mean * _LIMIT_IN_TYPICAL_PURCHASES / 500) * 500
        cards.append(
            Card(
                card_id=f"card-{number:04d}",
                customer_id=customer[0],
                customer_name=customer[1],
                home_country=customer[2],
                account_age_days=customer[3],
                credit_limit=float(max(rng.choice(limits), floor)),
                spend_mean=mean,
                spend_std=round(mean * rng.uniform(0.25, 0.6), 2),
            )
        )
    return tuple(cards)


# --- history ------------------------------------------------------------------------------

_TRIP_SHARE = 0.3
_HABIT_SHARE = 0.06
_FAVOURITE_SHARE = 0.85


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z and whole seconds: 2025-04-01T07:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def typical_amount(rng: random.Random, card: Card) -> float:
    """An everyday amount: log-normal with the card's mean and std, at most mean + 3 std."""
    sigma2 = math.log(1 + (card.spend_std / card.spend_mean) ** 2)
    value = rng.lognormvariate(math.log(card.spend_mean) - sigma2 / 2, math.sqrt(sigma2))
    return round(min(max(value, 1.0), card.spend_mean + 3 * card.spend_std), 2)


def where(merchant: Merchant, card: Card) -> str:
    """Where the card was used: the shop's country in store, the cardholder's home online."""
    return card.home_country if merchant.online else merchant.country


def everyday_merchants(merchants: Iterable[Merchant], home_country: str) -> list[Merchant]:
    """Low-risk merchants a cardholder at home may use any week."""
    return [
        m
        for m in merchants
        if m.risk_score < 0.3
        and m.category not in _OCCASIONAL
        and (m.online or m.country == home_country)
    ]


def _daytime(rng: random.Random, day: datetime) -> datetime:
    """A moment between 07:00 and 23:00 of the given day."""
    return day + timedelta(seconds=rng.uniform(7 * 3600, 23 * 3600))


def _history_days() -> int:
    """Whole days of history; the last one ends before the stream starts."""
    return (STREAM_START.replace(hour=0) - HISTORY_START).days


def _card_history(
    rng: random.Random, card: Card, merchants: Sequence[Merchant]
) -> list[tuple[datetime, Card, Merchant, float, str]]:
    """5-40 past transactions of one card: mostly favourites, maybe a trip or a habit."""
    days = _history_days()
    count = rng.randint(5, 40)
    pool = everyday_merchants(merchants, card.home_country)
    favourites = rng.sample(pool, min(rng.randint(3, 6), len(pool)))
    rows: list[tuple[datetime, Card, Merchant, float, str]] = []
    if count >= 8 and rng.random() < _TRIP_SHARE:
        country = rng.choice(
            sorted({m.country for m in merchants if m.country in TRAVEL_COUNTRIES})
        )
        abroad = [m for m in merchants if m.country == country and not m.online]
        first_day = HISTORY_START + timedelta(days=rng.randint(0, days - 5))
        for _ in range(rng.randint(2, 4)):
            moment = _daytime(rng, first_day + timedelta(days=rng.randint(0, 3)))
            amount = round(card.spend_mean * rng.uniform(0.8, 2.5), 2)
            rows.append((moment, card, rng.choice(abroad), amount, country))
    if rng.random() < _HABIT_SHARE:
        medium = [m for m in merchants if 0.5 <= m.risk_score < HIGH_RISK]
        habit = rng.choice(medium)
        for _ in range(rng.randint(1, 3)):
            moment = _daytime(rng, HISTORY_START + timedelta(days=rng.randint(0, days - 1)))
            rows.append((moment, card, habit, typical_amount(rng, card), where(habit, card)))
    while len(rows) < count:
        merchant = rng.choice(favourites if rng.random() < _FAVOURITE_SHARE else pool)
        moment = _daytime(rng, HISTORY_START + timedelta(days=rng.randint(0, days - 1)))
        rows.append((moment, card, merchant, typical_amount(rng, card), where(merchant, card)))
    return rows


def _make_history(
    rng: random.Random, cards: Sequence[Card], merchants: Sequence[Merchant]
) -> tuple[PastTransaction, ...]:
    """Every card's history, numbered htx-000001.. in time order across all cards."""
    rows = [row for card in cards for row in _card_history(rng, card, merchants)]
    rows.sort(key=lambda row: (iso(row[0]), row[1].card_id))
    return tuple(
        PastTransaction(
            transaction_id=f"htx-{number:06d}",
            card_id=card.card_id,
            merchant_id=merchant.merchant_id,
            amount=amount,
            currency=CURRENCY,
            country=country,
            timestamp=iso(moment),
        )
        for number, (moment, card, merchant, amount, country) in enumerate(rows, 1)
    )


@functools.lru_cache(maxsize=4)
def generate_world(seed: int = DEFAULT_WORLD_SEED) -> World:
    """The whole world for a seed, in memory (the same seed always gives the same world)."""
    rng = random.Random(seed)
    merchants = _make_merchants(rng)
    cards = _make_cards(rng)
    return World(seed, cards, merchants, _make_history(rng, cards, merchants))


# --- database -----------------------------------------------------------------------------


def _write(conn: sqlite3.Connection, world: World) -> None:
    """Create the schema and insert the world, in one deterministic order."""
    conn.executescript(SCHEMA)
    with conn:
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("schema_version", str(SCHEMA_VERSION)),
                ("world_seed", str(world.seed)),
                ("currency", CURRENCY),
                ("stream_start", iso(STREAM_START)),
            ],
        )
        # Dataclass fields are declared in column order, so a row is just the tuple.
        conn.executemany(
            "INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?, ?, ?)", map(astuple, world.cards)
        )
        conn.executemany(
            "INSERT INTO merchants VALUES (?, ?, ?, ?, ?, ?, ?, ?)", map(astuple, world.merchants)
        )
        conn.executemany(
            "INSERT INTO past_transactions VALUES (?, ?, ?, ?, ?, ?, ?)",
            map(astuple, world.history),
        )
    # The version goes in last: a half-written file never passes for a current database.
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def build_database(path: Path, seed: int = DEFAULT_WORLD_SEED) -> Path:
    """Write the world of `seed` to `path`, replacing any file there atomically.

    The database is written to a temporary file beside `path` and renamed over it, so a
    reader (or a concurrent builder) sees either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            _write(conn, generate_world(seed))
        finally:
            conn.close()
        # mkstemp creates the file private to its owner; the demo data is meant to be shared.
        tmp.chmod(0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def schema_version(path: Path) -> int | None:
    """The schema version of the database at `path`, or None if it is not a readable one."""
    try:
        with contextlib.closing(connect_read_only(path)) as conn:
            row = conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0])


def ensure_database(path: Path, seed: int = DEFAULT_WORLD_SEED) -> Path:
    """The database at `path`, built first if it is missing or of another schema version."""
    path = Path(path)
    if not path.is_file() or schema_version(path) != SCHEMA_VERSION:
        build_database(path, seed)
    return path


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection (rows as sqlite3.Row); fails if the file does not exist."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def default_db_path() -> Path:
    """$FRAUD_DB, or .flink-agents/demo/fraud.db under the current directory."""
    return Path(os.environ.get(DB_ENV_VAR) or DEFAULT_DB_PATH)


# --- incoming transactions ----------------------------------------------------------------

# Share of the sample's transactions per kind; "ordinary" takes the rest. Bursts come in
# groups of 3-5 transactions on one card, seconds to a minute or two apart.
_SUSPICIOUS_MIX = (
    ("risky_merchant", 0.04),  # a merchant with risk >= 0.8, 1-3x typical amount
    ("large_amount", 0.03),  # 6-12x typical, at a low-risk big-ticket merchant at home
    ("foreign", 0.02),  # in store in a country the card has never been used in
    ("combo", 0.01),  # a risk >= 0.8 merchant, 5.5-10x typical, from the merchant's country
)
_BORDERLINE_MIX = (
    ("elevated_amount", 0.03),  # 2.5-4.5x typical at a usual merchant
    ("medium_merchant", 0.03),  # a merchant with risk in [0.35, 0.8), typical amount
    ("known_travel", 0.02),  # abroad, but in a country of the card's history
)
_BURST_SHARE = 0.03
_BURST_MEAN_SIZE = 4
_MEAN_GAP_S = 45.0
# Outside bursts a card is not used again within this time, so only bursts look like bursts.
_COOLDOWN = timedelta(minutes=30)


@dataclass(frozen=True)
class _Index:
    """Look-ups of one world that the sample needs."""

    world: World
    usual: dict[str, list[Merchant]]  # card_id -> everyday merchants seen in its history
    visited: dict[str, list[str]]  # card_id -> countries abroad seen in its history
    high_risk: list[Merchant]
    medium_risk: list[Merchant]
    in_store: dict[str, list[Merchant]]  # country -> in-store merchants
    spree: list[Merchant]  # low-risk big-ticket merchants


@functools.lru_cache(maxsize=4)
def _index(world: World) -> _Index:
    """Build the look-ups; lists are sorted so no set order leaks into the output."""
    by_id = {m.merchant_id: m for m in world.merchants}
    homes = {c.card_id: c.home_country for c in world.cards}
    usual: dict[str, set[str]] = {c.card_id: set() for c in world.cards}
    visited: dict[str, set[str]] = {c.card_id: set() for c in world.cards}
    for tx in world.history:
        merchant = by_id[tx.merchant_id]
        if tx.country != homes[tx.card_id]:
            visited[tx.card_id].add(tx.country)
        elif merchant.risk_score < 0.3 and merchant.category not in _OCCASIONAL:
            usual[tx.card_id].add(merchant.merchant_id)
    in_store: dict[str, list[Merchant]] = {}
    for m in world.merchants:
        if not m.online:
            in_store.setdefault(m.country, []).append(m)
    return _Index(
        world=world,
        usual={card: [by_id[m] for m in sorted(ids)] for card, ids in usual.items()},
        visited={card: sorted(countries) for card, countries in visited.items()},
        high_risk=[m for m in world.merchants if m.risk_score >= HIGH_RISK],
        medium_risk=[m for m in world.merchants if 0.35 <= m.risk_score < HIGH_RISK],
        in_store=in_store,
        spree=[m for m in world.merchants if m.category in _BIG_TICKET and m.risk_score < 0.5],
    )


def _plan(n: int, rng: random.Random) -> list[tuple[str, int]]:
    """The sample's events as (kind, number of transactions), in a seeded order."""
    events: list[tuple[str, int]] = []
    used = 0
    for _ in range(round(n * _BURST_SHARE / _BURST_MEAN_SIZE)):
        size = rng.randint(3, 5)
        if used + size > n:
            break
        events.append(("burst", size))
        used += size
    for kind, share in _SUSPICIOUS_MIX + _BORDERLINE_MIX:
        count = min(round(n * share), n - used)
        events += [(kind, 1)] * count
        used += count
    events += [("ordinary", 1)] * (n - used)
    rng.shuffle(events)
    return events


_Draft = tuple[datetime, Card, Merchant, float, str]


class _Stream:
    """Turns planned events into transactions on a clock that only moves forward."""

    def __init__(self, index: _Index, n: int, rng: random.Random) -> None:
        self.index = index
        self.rng = rng
        cards = index.world.cards
        # Few enough active cards that each shows up several times: per-card memory matters.
        self.active = rng.sample(cards, min(len(cards), max(n // 4, min(n, 10))))
        # With few active cards, slow the clock so the cooldown still leaves cards to pick.
        self.mean_gap_s = max(_MEAN_GAP_S, _COOLDOWN.total_seconds() / (0.6 * len(self.active)))
        self.clock = STREAM_START
        self.last_used: dict[str, datetime] = {}

    def card(self, prefer: str | None = None) -> Card:
        """An active card not used within the cooldown (else the longest unused one)."""
        rested = [
            c
            for c in self.active
            if self.clock - self.last_used.get(c.card_id, datetime.min.replace(tzinfo=UTC))
            >= _COOLDOWN
        ]
        if prefer == "travelled":
            rested = [c for c in rested if self.index.visited[c.card_id]] or rested
        if not rested:
            return min(self.active, key=lambda c: (self.last_used[c.card_id], c.card_id))
        return self.rng.choice(rested)

    def event(self, kind: str, size: int) -> list[_Draft]:
        """The transactions of one event, stamped from the current clock."""
        self.clock += timedelta(seconds=1 + self.rng.expovariate(1 / self.mean_gap_s))
        card = self.card("travelled" if kind == "known_travel" else None)
        drafts = self.burst(card, size) if kind == "burst" else [self.single(kind, card)]
        self.last_used[card.card_id] = drafts[-1][0]
        return drafts

    def usual_merchant(self, card: Card) -> Merchant:
        """One of the card's usual merchants, now and then another everyday one."""
        usual = self.index.usual[card.card_id]
        if usual and self.rng.random() < _FAVOURITE_SHARE:
            return self.rng.choice(usual)
        return self.rng.choice(everyday_merchants(self.index.world.merchants, card.home_country))

    def single(self, kind: str, card: Card) -> _Draft:
        """One transaction of the given kind."""
        rng, mean = self.rng, card.spend_mean
        merchant = self.usual_merchant(card)
        amount = typical_amount(rng, card)
        country = where(merchant, card)
        if kind == "elevated_amount":
            amount = mean * rng.uniform(2.5, 4.5)
        elif kind == "medium_merchant":
            merchant = rng.choice(self.index.medium_risk)
            country = where(merchant, card)
        elif kind == "risky_merchant":
            merchant = rng.choice(self.index.high_risk)
            amount, country = mean * rng.uniform(1.0, 3.0), card.home_country
        elif kind == "combo":
            merchant = rng.choice(self.index.high_risk)
            amount, country = mean * rng.uniform(5.5, 10.0), merchant.country
        elif kind == "large_amount":
            merchant = rng.choice(
                [m for m in self.index.spree if m.online or m.country == card.home_country]
            )
            amount, country = mean * rng.uniform(6.0, 12.0), card.home_country
        elif kind in ("foreign", "known_travel"):
            country = self.abroad_country(card, known=kind == "known_travel")
            merchant = rng.choice(self.index.in_store[country])
            low, high = (0.8, 2.0) if kind == "known_travel" else (1.5, 4.0)
            amount = mean * rng.uniform(low, high)
        return self.clock, card, merchant, round(amount, 2), country

    def abroad_country(self, card: Card, known: bool) -> str:
        """A travel country the card has (known) or has never (not known) been used in."""
        visited = self.index.visited[card.card_id]
        candidates = visited if known else [c for c in TRAVEL_COUNTRIES if c not in visited]
        return self.rng.choice(candidates or list(TRAVEL_COUNTRIES))

    def burst(self, card: Card, size: int) -> list[_Draft]:
        """Several transactions within minutes: card testing (tiny amounts) or a spree."""
        rng = self.rng
        testing = rng.random() < 0.5
        drafts: list[_Draft] = []
        moment = self.clock
        for _ in range(size):
            if testing:
                merchant = rng.choice(self.index.high_risk)
                amount = rng.uniform(0.5, 4.99)
            else:
                merchant = rng.choice(
                    [m for m in self.index.spree if m.online or m.country == card.home_country]
                )
                amount = card.spend_mean * rng.uniform(1.0, 3.0)
            drafts.append((moment, card, merchant, round(amount, 2), card.home_country))
            moment += timedelta(seconds=rng.uniform(20, 100))
        return drafts


def sample_transactions(
    n: int, seed: int = DEFAULT_SAMPLE_SEED, *, world_seed: int = DEFAULT_WORLD_SEED
) -> list[dict[str, Any]]:
    """`n` new incoming transactions against the world of `world_seed`, oldest first.

    Each is a JSON-ready dict with exactly: transaction_id (tx-000001..), card_id, amount
    (EUR, 2 decimals), currency, merchant_id, country and timestamp (ISO 8601 UTC, strictly
    increasing). About 79% are ordinary, 13% clearly suspicious and 8% borderline; see
    `_SUSPICIOUS_MIX` and `_BORDERLINE_MIX`. No labels: deciding is the agent's job.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return []
    rng = random.Random(seed)
    stream = _Stream(_index(generate_world(world_seed)), n, rng)
    drafts = [draft for kind, size in _plan(n, rng) for draft in stream.event(kind, size)]
    # Bursts overlap later events in time; sort, then keep timestamps strictly increasing.
    drafts.sort(key=lambda d: d[0])
    out: list[dict[str, Any]] = []
    previous = STREAM_START - timedelta(seconds=1)
    for number, (moment, card, merchant, amount, country) in enumerate(drafts, 1):
        moment = max(moment.replace(microsecond=0), previous + timedelta(seconds=1))
        previous = moment
        out.append(
            {
                "transaction_id": f"tx-{number:06d}",
                "card_id": card.card_id,
                "amount": amount,
                "currency": CURRENCY,
                "merchant_id": merchant.merchant_id,
                "country": country,
                "timestamp": iso(moment),
            }
        )
    return out


# --- command line -------------------------------------------------------------------------


def _count(text: str) -> int:
    """argparse type: a whole number >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.tools.fraud_data", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write the world to a SQLite database")
    build.add_argument(
        "--db", type=Path, default=None, help=f"default: ${DB_ENV_VAR} or {DEFAULT_DB_PATH}"
    )
    build.add_argument("--seed", type=int, default=DEFAULT_WORLD_SEED)
    sample = commands.add_parser("sample", help="print new transactions, one JSON per line")
    sample.add_argument("--n", type=_count, default=300)
    sample.add_argument("--seed", type=int, default=DEFAULT_SAMPLE_SEED)
    sample.add_argument("--world-seed", type=int, default=DEFAULT_WORLD_SEED)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m jobs.tools.fraud_data`."""
    args = _parser().parse_args(argv)
    if args.command == "build":
        path = build_database(args.db or default_db_path(), args.seed)
        world = generate_world(args.seed)
        print(
            f"built {path}: {len(world.cards)} cards, {len(world.merchants)} merchants, "
            f"{len(world.history)} past transactions"
        )
        return 0
    try:
        for tx in sample_transactions(args.n, args.seed, world_seed=args.world_seed):
            sys.stdout.write(json.dumps(tx) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # `... | head` closed the pipe: stop quietly, and keep the interpreter's final flush
        # from raising again on the dead stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
