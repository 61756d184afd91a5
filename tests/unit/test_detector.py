"""The anomaly detector's core on simulated fleets: clean data, each fault kind, state."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from flink_agents.detect import AnomalyDetector, DetectorCore, Incident, KeyState, offline, score
from jobs.tools.sensors import METRICS, STEP_S, Fault, fleet

DETECTOR = AnomalyDetector(key="machine_id", metrics=list(METRICS), window=10, warmup=20)
LEADS = {"bearing_wear": "vibration", "overheating": "temperature", "leak": "pressure"}


def test_clean_machines_raise_few_incidents_and_few_windows_over_the_threshold():
    readings, truth = fleet(machines=12, count=1200, seed=3)  # 240 machine-hours
    found = offline(DETECTOR, readings)
    scores = np.array([s for per_key in found.scores.values() for s in per_key])
    assert truth == [] and len(found.anomalies) <= 2  # at most one per 100 machine-hours
    assert scores.size == 12 * (120 - 20)
    assert (scores > DETECTOR.limit()).mean() < 0.01  # false-positive rate per window
    assert np.median(scores) < len(METRICS) * 1.5  # near the chi-square median (4.35)


@pytest.mark.parametrize("kind", sorted(LEADS))
def test_each_fault_is_found_once_on_its_machine_with_its_leading_metric(kind: str):
    readings, truth = fleet(machines=5, count=500, faults=[Fault("m-03", kind, 300)], seed=9)
    found = offline(DETECTOR, readings)
    [anomaly] = found.anomalies
    assert anomaly.key == "m-03" and anomaly.contributors[0].metric == LEADS[kind]
    assert anomaly.score > anomaly.threshold and len(anomaly.window) == 10
    assert anomaly.contributors[0].share > 0.4
    scores = score(truth, [(a.key, a.detected_at) for a in found.anomalies])
    assert (scores.precision, scores.recall) == (1.0, 1.0)
    assert 0 < scores.delays[0] <= 30 * STEP_S  # within three windows
    assert anomaly.started_at <= anomaly.detected_at


def test_windows_after_a_fault_score_far_above_those_before():
    readings, _ = fleet(machines=1, count=500, faults=[Fault("m-01", "overheating", 300)])
    scores = offline(DETECTOR, readings).scores["m-01"]  # windows 20.. of 50
    before, after = scores[: 30 - 20], scores[32 - 20 : 40 - 20]
    assert max(before) < DETECTOR.limit() < 2 * DETECTOR.limit() < min(after)


def test_an_incident_closes_after_clear_windows_and_a_new_one_opens_again():
    spec = AnomalyDetector(key="m", metrics=["a", "b"], window=1, warmup=30, clear=3)
    core, state = DetectorCore(spec), KeyState()
    rng = np.random.default_rng(1)
    events = []
    plan = [0.0] * 40 + [8.0] * 4 + [0.0] * 10 + [8.0] * 4
    for t, shift in enumerate(plan):
        a, b = rng.normal(0, 1, 2)
        result = core.on_window(state, "k", [[float(t), a + shift, b]])
        state = result.state
        if result.anomaly:
            events.append(result.anomaly)
    assert [e.anomaly_id for e in events] == ["k/41", "k/55"]
    assert [e.contributors[0].metric for e in events] == ["a", "a"]


def test_key_state_reads_back_from_its_json():
    readings, _ = fleet(machines=1, count=250)
    core, state = DetectorCore(DETECTOR), KeyState()
    rows = [[r["ts"], *(r[m] for m in METRICS)] for r in readings]
    for start in range(0, 250, 10):
        state = core.on_window(state, "m-01", rows[start : start + 10]).state
    assert KeyState.model_validate_json(state.model_dump_json()) == state
    assert state.baseline.n == 25 and state.windows == 25


def test_the_threshold_follows_the_false_alarm_rate_unless_given():
    loose = AnomalyDetector(key="m", metrics=list(METRICS), false_alarm_rate=0.01)
    assert 14 < loose.limit() < 16  # chi-square(5) at 0.99 is 15.09
    assert AnomalyDetector(key="m", metrics=["a"], threshold=4.0).limit() == 4.0


def test_a_detector_with_a_metric_named_like_its_key_is_refused():
    with pytest.raises(ValidationError, match="key and time_field cannot also be metrics"):
        AnomalyDetector(key="m", metrics=["m", "a"])


def test_scores_count_detections_outside_incidents_as_false_and_misses_as_lost():
    truth = [Incident(key="m-1", start=100.0, end=200.0), Incident(key="m-2", start=50.0)]
    found = score(truth, [("m-1", 150.0), ("m-1", 250.0), ("m-1", 160.0), ("m-3", 10.0)])
    assert (found.precision, found.recall) == (0.5, 0.5)
    assert found.delays == [50.0]
    assert score([], []).precision == score([], []).recall == 1.0
