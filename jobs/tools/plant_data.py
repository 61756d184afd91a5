"""The maintenance demo's warehouse: a DuckDB file standing in for the data platform.

Tables (one row per machine of the fleet, ``m-01`` ...):

- ``assets``: model, site, line, install date, criticality (A most critical);
- ``maintenance_history``: past work on each machine (what, when, which part, downtime);
- ``parts``: spare parts per model and failure mode, with stock and lead time;
- ``supplier_contracts``: prices agreed with suppliers, which the agent's tool may not read.

>>> import tempfile, duckdb
>>> path = build_warehouse(Path(tempfile.mkdtemp()) / "plant.duckdb", machines=3)
>>> with duckdb.connect(str(path), read_only=True) as con:
...     con.sql("SELECT machine_id, model FROM assets ORDER BY 1").fetchall()
[('m-01', 'PX-200'), ('m-02', 'PX-300'), ('m-03', 'CX-50')]
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import duckdb

MODELS = ("PX-200", "PX-300", "CX-50")
SITES = ("Lyon", "Porto")
FAILURE_PARTS = {
    "bearing_wear": ("bearing kit", "BRG"),
    "overheating": ("cooling fan", "FAN"),
    "leak": ("seal set", "SEAL"),
}
ALLOWED_TABLES = ("assets", "maintenance_history", "parts")

_SCHEMA = """
CREATE TABLE assets (machine_id VARCHAR PRIMARY KEY, model VARCHAR, site VARCHAR,
    line INTEGER, installed_on DATE, criticality VARCHAR);
CREATE TABLE maintenance_history (event_id VARCHAR PRIMARY KEY, machine_id VARCHAR,
    performed_on DATE, kind VARCHAR, part_id VARCHAR, downtime_h DOUBLE, notes VARCHAR);
CREATE TABLE parts (part_id VARCHAR PRIMARY KEY, name VARCHAR, fits_model VARCHAR,
    failure_mode VARCHAR, stock INTEGER, lead_time_days INTEGER);
CREATE TABLE supplier_contracts (part_id VARCHAR, supplier VARCHAR, unit_price DOUBLE);
"""


def build_warehouse(path: Path, machines: int = 6, seed: int = 11) -> Path:
    """Write the warehouse to ``path`` (replacing it); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rng = random.Random(seed)
    with duckdb.connect(str(path)) as con:
        con.execute(_SCHEMA)
        for model in MODELS:
            for mode, (name, code) in FAILURE_PARTS.items():
                part = f"{code}-{model}"
                stock, lead = rng.randint(0, 6), rng.choice((2, 5, 14))
                con.execute(
                    "INSERT INTO parts VALUES (?, ?, ?, ?, ?, ?)",
                    [part, name, model, mode, stock, lead],
                )
                con.execute(
                    "INSERT INTO supplier_contracts VALUES (?, ?, ?)",
                    [part, rng.choice(("Acme", "Bolt & Co")), round(rng.uniform(40, 900), 2)],
                )
        for i in range(machines):
            machine, model = f"m-{i + 1:02d}", MODELS[i % len(MODELS)]
            installed = date(2019, 1, 1) + timedelta(days=rng.randint(0, 1500))
            con.execute(
                "INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?)",
                [machine, model, SITES[i % 2], 1 + i % 3, installed, "ABC"[i % 3]],
            )
            for n in range(rng.randint(1, 3)):
                mode = rng.choice(tuple(FAILURE_PARTS))
                code = FAILURE_PARTS[mode][1]
                con.execute(
                    "INSERT INTO maintenance_history VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        f"mh-{machine}-{n + 1}",
                        machine,
                        installed + timedelta(days=200 * (n + 1)),
                        f"{mode} repair",
                        f"{code}-{model}",
                        round(rng.uniform(1, 12), 1),
                        f"replaced {FAILURE_PARTS[mode][0]}",
                    ],
                )
    return path
