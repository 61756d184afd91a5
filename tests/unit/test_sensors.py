"""The maintenance demo's sensor simulator: correlated metrics, seasons, faults, truth."""

from __future__ import annotations

import numpy as np
import pytest

from jobs.tools.sensors import DAY_S, METRICS, SIGNATURES, START_TS, STEP_S, Fault, fleet


def _series(rows: list[dict[str, float]], machine: str, metric: str) -> np.ndarray:
    return np.array([r[metric] for r in rows if r["machine_id"] == machine])


def test_the_same_seed_gives_the_same_readings_and_another_seed_others():
    assert fleet(2, 50, seed=1) == fleet(2, 50, seed=1)
    assert fleet(2, 50, seed=1)[0] != fleet(2, 50, seed=2)[0]


def test_current_follows_rpm_through_the_load():
    rows, _ = fleet(1, 2000, seed=4)
    current, rpm = _series(rows, "m-01", "current"), _series(rows, "m-01", "rpm")
    assert np.corrcoef(current, rpm)[0, 1] > 0.6


def test_temperature_has_a_daily_cycle():
    rows, _ = fleet(1, int(2 * DAY_S / STEP_S), seed=5)
    temperature = _series(rows, "m-01", "temperature")
    hourly = temperature[: len(temperature) // 60 * 60].reshape(-1, 60).mean(axis=1)
    assert hourly.max() - hourly.min() > 4  # the 3 degree cycle, plus load


@pytest.mark.parametrize("kind", sorted(SIGNATURES))
def test_a_fault_moves_its_metrics_from_its_start_and_is_in_the_truth(kind: str):
    rows, truth = fleet(2, 600, [Fault("m-02", kind, 300)], seed=6)
    assert [(i.key, i.kind, i.start) for i in truth] == [("m-02", kind, START_TS + 300 * STEP_S)]
    for metric, size in SIGNATURES[kind].items():
        series = _series(rows, "m-02", metric)
        moved = series[350:].mean() - series[200:300].mean()
        assert abs(moved - size) < abs(size) * 0.6 + 0.5, metric
    healthy = _series(rows, "m-01", "vibration")
    assert abs(healthy[350:].mean() - healthy[200:300].mean()) < 0.3


def test_readings_carry_the_machine_time_sequence_and_every_metric():
    rows, _ = fleet(3, 2)
    assert [(r["machine_id"], r["seq"]) for r in rows[:4]] == [
        ("m-01", 0),
        ("m-02", 0),
        ("m-03", 0),
        ("m-01", 1),
    ]
    assert all(set(METRICS) <= set(r) for r in rows)


def test_a_fault_on_a_machine_outside_the_fleet_is_refused():
    with pytest.raises(ValueError, match=r"faults name machines \['m-09'\]"):
        fleet(2, 10, [Fault("m-09", "leak", 1)])
