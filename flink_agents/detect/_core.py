"""The detector's decisions for one key, on plain data: no Flink, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from flink_agents.detect._baseline import Baseline, Vector
from flink_agents.detect._spec import AnomalyDetector

#: One reading in a window: its time, then the metrics in the detector's order.
Row = list[float]


class KeyState(BaseModel):
    """What the detector keeps per key between windows (JSON in Flink state)."""

    v: int = 1
    baseline: Baseline = Baseline()
    windows: int = 0
    over: int = 0
    under: int = 0
    over_since: float | None = None
    incident: str | None = None


class Contributor(BaseModel):
    """A metric's part in an anomaly: its share of the distance, the window's value, the
    baseline's, and how many standard deviations apart they are."""

    metric: str
    share: float
    value: float
    expected: float
    z: float


class Anomaly(BaseModel):
    """The event an incident opens with. ``anomaly_id`` is ``<key>/<window number>``: the same
    on a replay, so it can serve as the id of whatever is done about it."""

    v: int = 1
    kind: str = "anomaly.detected"
    anomaly_id: str
    key: str
    window_index: int
    score: float
    threshold: float
    contributors: list[Contributor]
    started_at: float
    detected_at: float
    window: list[dict[str, float]]

    def to_record(self, key_field: str) -> dict[str, Any]:
        """The event as JSON, with the key under the readings' own key field too."""
        return {key_field: self.key, **self.model_dump(mode="json")}


@dataclass(frozen=True)
class Scored:
    """A window's outcome: its squared distance (None during warm-up), and an anomaly if the
    window opened an incident."""

    state: KeyState
    score: float | None
    anomaly: Anomaly | None = None


class DetectorCore:
    """Scores a key's windows against its baseline and opens and closes incidents.

    >>> spec = AnomalyDetector(key="m", metrics=["a", "b"], warmup=3, confirm=1)
    >>> core, state = DetectorCore(spec), KeyState()
    >>> for i, (a, b) in enumerate([(1, 10), (3, 14), (2, 12), (2.1, 12.2)]):
    ...     state = core.on_window(state, "m1", [[i, a, b]]).state
    >>> result = core.on_window(state, "m1", [[9, 9.0, 12.0]])
    >>> result.anomaly.anomaly_id, result.anomaly.contributors[0].metric
    ('m1/4', 'a')
    """

    def __init__(self, spec: AnomalyDetector) -> None:
        self.spec = spec
        self.limit = spec.limit()
        self.alpha = 1 - 0.5 ** (1 / spec.half_life)
        self.beta = 1 - 0.5 ** (1 / spec.scatter_half_life)

    def features(self, rows: list[Row]) -> Vector:
        """The window's feature vector: each metric's mean."""
        features: Vector = np.asarray(rows, dtype=np.float64)[:, 1:].mean(axis=0)
        return features

    def on_window(self, state: KeyState, key: str, rows: list[Row]) -> Scored:
        """Score a full window of ``rows`` and return the key's new state."""
        x = self.features(rows)
        state = state.model_copy(deep=True)
        index = state.windows
        state.windows += 1
        if state.baseline.n < self.spec.warmup:
            state.baseline.learn(x)
            return Scored(state, None)
        score, parts, z = state.baseline.distance(x, self.spec.shrinkage)
        if score > self.limit:
            if state.over == 0:
                state.over_since = rows[0][0]
            state.over, state.under = state.over + 1, 0
            # Weighted down by how far out it lies (an M-estimator's weight): a true fault
            # is learnt slowly, so its incident stays open; a false alarm near the threshold
            # is soon part of normal again. The covariance learns only from normal windows.
            state.baseline.learn(x, self.alpha * self.limit / score)
        else:
            state.over, state.under, state.over_since = 0, state.under + 1, None
            state.baseline.learn(x, self.alpha, self.beta)
        if state.incident is not None and state.under >= self.spec.clear:
            state.incident = None
        if state.incident is not None or state.over < self.spec.confirm:
            return Scored(state, score)
        state.incident = f"{key}/{index}"
        anomaly = self._anomaly(state, key, index, score, rows, x, parts, z)
        return Scored(state, score, anomaly)

    def _anomaly(
        self,
        state: KeyState,
        key: str,
        index: int,
        score: float,
        rows: list[Row],
        x: Vector,
        parts: Vector,
        z: Vector,
    ) -> Anomaly:
        positive = np.maximum(parts, 0.0)
        total = float(positive.sum()) or 1.0
        order = np.argsort(-positive)[: self.spec.top]
        mean = state.baseline.mean
        names = [self.spec.time_field, *self.spec.metrics]
        return Anomaly(
            anomaly_id=str(state.incident),
            key=key,
            window_index=index,
            score=round(score, 3),
            threshold=round(self.limit, 3),
            contributors=[
                Contributor(
                    metric=self.spec.metrics[i],
                    share=round(float(positive[i]) / total, 3),
                    value=round(float(x[i]), 4),
                    expected=round(float(mean[i]), 4),
                    z=round(float(z[i]), 2),
                )
                for i in order
            ],
            started_at=state.over_since if state.over_since is not None else rows[0][0],
            detected_at=rows[-1][0],
            window=[dict(zip(names, row, strict=True)) for row in rows],
        )


@dataclass
class Offline:
    """What ``offline`` found: the anomalies, and each key's window scores in order."""

    anomalies: list[Anomaly]
    scores: dict[str, list[float]]


def offline(spec: AnomalyDetector, readings: list[dict[str, Any]]) -> Offline:
    """Run the detector over readings in memory, as the Flink operator does per key: for
    tuning a detector on recorded data, and for tests.

    >>> spec = AnomalyDetector(key="m", metrics=["a"], window=2, warmup=3, confirm=1)
    >>> values = [1, 2, 2, 3, 1.5, 2.5, 2.1, 2.0, 9, 9]
    >>> found = offline(spec, [{"m": "x", "ts": t, "a": a} for t, a in enumerate(values)])
    >>> [a.anomaly_id for a in found.anomalies], [round(s, 2) for s in found.scores["x"]]
    (['x/4'], [0.01, 294.55])
    """
    core = DetectorCore(spec)
    states: dict[str, KeyState] = {}
    windows: dict[str, list[Row]] = {}
    found = Offline([], {})
    fields = [spec.time_field, *spec.metrics]
    for reading in readings:
        key = str(reading[spec.key])
        window = windows.setdefault(key, [])
        window.append([float(reading[f]) for f in fields])
        if len(window) < spec.window:
            continue
        result = core.on_window(states.get(key, KeyState()), key, window)
        states[key], windows[key] = result.state, []
        if result.score is not None:
            found.scores.setdefault(key, []).append(result.score)
        if result.anomaly is not None:
            found.anomalies.append(result.anomaly)
    return found
