"""The fraud demo world: deterministic, well-formed, and with a stated mix of transactions.

The mix rules checked on a 300-transaction sample (seed 11) against the built database:

- strongly suspicious: merchant risk >= 0.8, or amount > 5x the card's typical mean: >= 5%
- bursts: at least one card has >= 3 transactions within 10 minutes
- foreign: in a country that is neither the card's home nor in its history: >= 1%
- borderline: 2.5-5x the mean at a merchant under 0.8 risk, a merchant of risk 0.35-0.8,
  or abroad in a country the card has been used in before: >= 3%
- plain: home country, merchant risk < 0.35, at most 3.5x the mean, not in a burst: >= 60%
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from jobs.tools import fraud_data
from jobs.tools.fraud_data import (
    SCHEMA_VERSION,
    build_database,
    ensure_database,
    sample_transactions,
    schema_version,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SAMPLE_FIELDS = [
    "transaction_id",
    "card_id",
    "amount",
    "currency",
    "merchant_id",
    "country",
    "timestamp",
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_database(tmp_path_factory.mktemp("fraud") / "fraud.db")


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    return sample_transactions(300)


def _rows(db: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


# --- the database -------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path):
    first = build_database(tmp_path / "a.db", seed=7).read_bytes()
    again = build_database(tmp_path / "b.db", seed=7).read_bytes()
    other = build_database(tmp_path / "c.db", seed=8).read_bytes()
    assert first == again
    assert first != other


def test_world_has_the_promised_shape(db: Path):
    cards = _rows(db, "SELECT * FROM cards")
    merchants = _rows(db, "SELECT * FROM merchants")
    per_card = _rows(db, "SELECT card_id, COUNT(*) AS n FROM past_transactions GROUP BY card_id")
    assert len(cards) == 200
    assert [c["card_id"] for c in cards] == [f"card-{i:04d}" for i in range(1, 201)]
    assert all(c["spend_std"] > 0 and c["credit_limit"] >= 20 * c["spend_mean"] for c in cards)
    assert len(merchants) == 60
    assert [m["merchant_id"] for m in merchants] == [f"m-{i:03d}" for i in range(1, 61)]
    assert all(0 <= m["risk_score"] <= 1 for m in merchants)
    high = [m for m in merchants if m["risk_score"] >= 0.8]
    assert 3 <= len(high) <= 8
    assert all(m["flagged_reason"] for m in high)
    assert len(per_card) == 200
    assert all(5 <= row["n"] <= 40 for row in per_card)


def test_history_is_well_formed_and_ends_before_the_stream(db: Path):
    history = _rows(db, "SELECT * FROM past_transactions")
    cards = {r["card_id"] for r in _rows(db, "SELECT card_id FROM cards")}
    merchants = {r["merchant_id"] for r in _rows(db, "SELECT merchant_id FROM merchants")}
    assert all(tx["card_id"] in cards and tx["merchant_id"] in merchants for tx in history)
    assert all(ISO_UTC.match(tx["timestamp"]) for tx in history)
    assert max(tx["timestamp"] for tx in history) < fraud_data.iso(fraud_data.STREAM_START)
    assert all(tx["currency"] == "EUR" and tx["amount"] > 0 for tx in history)


def test_build_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path):
    path = tmp_path / "fraud.db"
    path.write_text("an old file")
    build_database(path)
    assert schema_version(path) == SCHEMA_VERSION
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fraud.db"]


def test_ensure_database_builds_only_when_missing_or_outdated(tmp_path: Path):
    path = tmp_path / "nested" / "fraud.db"
    ensure_database(path)
    assert schema_version(path) == SCHEMA_VERSION
    inode = path.stat().st_ino
    ensure_database(path)
    assert path.stat().st_ino == inode, "a current database must be left alone"

    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    ensure_database(path)
    assert schema_version(path) == SCHEMA_VERSION

    path.write_bytes(b"not a database at all")
    ensure_database(path)
    assert schema_version(path) == SCHEMA_VERSION


# --- the sample ---------------------------------------------------------------------------


def test_sample_is_deterministic():
    assert json.dumps(sample_transactions(120)) == json.dumps(sample_transactions(120))
    assert sample_transactions(120, seed=12) != sample_transactions(120)


def test_sample_fields_and_types_are_exact(db: Path, sample: list[dict]):
    cards = {r["card_id"] for r in _rows(db, "SELECT card_id FROM cards")}
    merchants = {r["merchant_id"] for r in _rows(db, "SELECT merchant_id FROM merchants")}
    assert len(sample) == 300
    for tx in sample:
        assert list(tx) == SAMPLE_FIELDS
        assert re.fullmatch(r"tx-\d{6}", tx["transaction_id"])
        assert tx["card_id"] in cards
        assert tx["merchant_id"] in merchants
        assert type(tx["amount"]) is float and tx["amount"] > 0
        assert round(tx["amount"], 2) == tx["amount"]
        assert tx["currency"] == "EUR"
        assert re.fullmatch(r"[A-Z]{2}", tx["country"])
        assert ISO_UTC.match(tx["timestamp"])
    assert len({tx["transaction_id"] for tx in sample}) == len(sample)
    stamps = [tx["timestamp"] for tx in sample]
    assert all(a < b for a, b in itertools.pairwise(stamps)), "strictly increasing"
    assert json.loads(json.dumps(sample)) == sample


def test_sample_spreads_over_many_cards_with_several_each(sample: list[dict]):
    per_card: dict[str, int] = defaultdict(int)
    for tx in sample:
        per_card[tx["card_id"]] += 1
    assert len(per_card) >= 40
    assert sum(1 for n in per_card.values() if n >= 3) >= 30


def _burst_ids(sample: list[dict]) -> set[str]:
    """Transactions with at least two others of the same card within 10 minutes."""
    times: dict[str, list[datetime]] = defaultdict(list)
    for tx in sample:
        times[tx["card_id"]].append(_time(tx["timestamp"]))
    window = timedelta(minutes=10)
    return {
        tx["transaction_id"]
        for tx in sample
        if sum(abs(t - _time(tx["timestamp"])) <= window for t in times[tx["card_id"]]) >= 3
    }


def test_sample_mix_follows_the_stated_rules(db: Path, sample: list[dict]):
    cards = {r["card_id"]: r for r in _rows(db, "SELECT * FROM cards")}
    risk = {r["merchant_id"]: r["risk_score"] for r in _rows(db, "SELECT * FROM merchants")}
    seen: dict[str, set[str]] = defaultdict(set)
    for row in _rows(db, "SELECT card_id, country FROM past_transactions"):
        seen[row["card_id"]].add(row["country"])
    bursts = _burst_ids(sample)
    strong = foreign = borderline = plain = 0
    for tx in sample:
        card, merchant_risk = cards[tx["card_id"]], risk[tx["merchant_id"]]
        ratio = tx["amount"] / card["spend_mean"]
        home = tx["country"] == card["home_country"]
        strong += merchant_risk >= 0.8 or ratio > 5
        foreign += not home and tx["country"] not in seen[tx["card_id"]]
        borderline += (
            (2.5 <= ratio <= 5 and merchant_risk < 0.8)
            or 0.35 <= merchant_risk < 0.8
            or (not home and tx["country"] in seen[tx["card_id"]])
        )
        plain += (
            home and merchant_risk < 0.35 and ratio <= 3.5 and tx["transaction_id"] not in bursts
        )
    n = len(sample)
    assert strong >= 0.05 * n
    assert len(bursts) >= 3
    assert foreign >= 0.01 * n
    assert borderline >= 0.03 * n
    assert plain >= 0.6 * n
    assert strong + foreign + len(bursts) <= 0.3 * n, "suspicious ones must stay a minority"


def test_small_samples_have_no_accidental_bursts():
    assert _burst_ids(sample_transactions(40)) == set()
    assert sample_transactions(0) == []


# --- command line -------------------------------------------------------------------------


def test_cli_sample_prints_one_json_object_per_line(capsys: pytest.CaptureFixture[str]):
    assert fraud_data.main(["sample", "--n", "25", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == sample_transactions(25, seed=3)


def test_cli_build_writes_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "cli.db"
    assert fraud_data.main(["build", "--db", str(path)]) == 0
    assert schema_version(path) == SCHEMA_VERSION
    assert str(path) in capsys.readouterr().out
