"""Sensor readings of a fleet of machines, with faults of known kinds and the ground truth.

Each machine has five metrics that move together with its load (a slow random walk):
``rpm`` and ``current`` follow the load, ``temperature`` follows it and the time of day
(and its sensor drifts slowly), ``pressure`` and ``vibration`` rise a little with it. A
fault adds its own signature, ramping up over ``RAMP`` readings and staying:

- ``bearing_wear``: vibration climbs, the bearing warms, the motor draws a little more;
- ``overheating``: temperature climbs much more than the load explains;
- ``leak``: pressure falls while the pump draws more current to hold it.

>>> rows, truth = fleet(machines=2, count=3, faults=[Fault("m-02", "leak", start=1)])
>>> [r["machine_id"] for r in rows]
['m-01', 'm-02', 'm-01', 'm-02', 'm-01', 'm-02']
>>> sorted(rows[0])
['current', 'machine_id', 'pressure', 'rpm', 'seq', 'temperature', 'ts', 'vibration']
>>> truth[0].key, truth[0].kind, truth[0].start - rows[0]["ts"]
('m-02', 'leak', 60.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from flink_agents.detect import Incident

METRICS = ("vibration", "temperature", "pressure", "current", "rpm")
FaultKind = Literal["bearing_wear", "overheating", "leak"]
START_TS = 1_798_761_600.0  # 2027-01-01T00:00:00Z
STEP_S = 60.0
DAY_S = 86_400.0
RAMP = 15

#: What each fault adds at full strength, per metric.
SIGNATURES: dict[str, dict[str, float]] = {
    "bearing_wear": {"vibration": 2.5, "temperature": 2.0, "current": 0.8},
    "overheating": {"temperature": 9.0, "current": 1.5},
    "leak": {"pressure": -0.8, "current": 2.0},
}
#: Sensor noise (one standard deviation) per metric.
NOISE = {"vibration": 0.25, "temperature": 0.5, "pressure": 0.08, "current": 0.4, "rpm": 4.0}


@dataclass(frozen=True)
class Fault:
    """A fault of ``kind`` on ``machine_id`` from reading number ``start`` on."""

    machine_id: str
    kind: FaultKind
    start: int


def machine_ids(machines: int) -> list[str]:
    return [f"m-{i + 1:02d}" for i in range(machines)]


def fleet(
    machines: int, count: int, faults: list[Fault] | tuple[Fault, ...] = (), seed: int = 7
) -> tuple[list[dict[str, Any]], list[Incident]]:
    """``count`` readings per machine, interleaved in time order, and the faults as incidents."""
    ids = machine_ids(machines)
    unknown = {f.machine_id for f in faults} - set(ids)
    if unknown:
        raise ValueError(f"faults name machines {sorted(unknown)} not in {ids[0]}..{ids[-1]}")
    rng = np.random.default_rng(seed)
    series = {m: _machine(m, count, [f for f in faults if f.machine_id == m], rng) for m in ids}
    rows = [series[m][i] for i in range(count) for m in ids]
    truth = [
        Incident(key=f.machine_id, kind=f.kind, start=START_TS + f.start * STEP_S) for f in faults
    ]
    return rows, truth


def _machine(
    machine_id: str, count: int, faults: list[Fault], rng: np.random.Generator
) -> list[dict[str, Any]]:
    nominal_rpm = rng.uniform(1400, 1600)
    phase = rng.uniform(0, 2 * math.pi)
    drift_per_day = rng.uniform(-0.6, 0.6)
    load = rng.uniform(0.6, 0.9)
    out = []
    for i in range(count):
        ts = START_TS + i * STEP_S
        load = float(np.clip(0.75 + 0.97 * (load - 0.75) + rng.normal(0, 0.015), 0.4, 1.0))
        day = math.sin(2 * math.pi * ts / DAY_S + phase)
        clean = {
            "vibration": 1.8 + 0.6 * load,
            "temperature": 42 + 14 * load + 3 * day + drift_per_day * (ts - START_TS) / DAY_S,
            "pressure": 5.5 + 1.2 * load,
            "current": 8 + 18 * load,
            "rpm": nominal_rpm * (0.85 + 0.15 * load),
        }
        for fault in faults:
            strength = min(1.0, max(0.0, (i - fault.start + 1) / RAMP))
            for metric, size in SIGNATURES[fault.kind].items():
                clean[metric] += strength * size
        reading = {m: round(clean[m] + rng.normal(0, NOISE[m]), 3) for m in METRICS}
        out.append({"machine_id": machine_id, "ts": ts, "seq": i, **reading})
    return out
