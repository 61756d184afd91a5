"""Anomaly detection per key, to put in front of an agent: the spec, its maths and scoring.

The Flink operator around it is ``AgentApp.detect`` (``runtime/_detect.py``); everything
here is plain Python on plain data, tested without Flink.
"""

from flink_agents.detect._baseline import Baseline
from flink_agents.detect._core import (
    Anomaly,
    Contributor,
    DetectorCore,
    KeyState,
    Offline,
    Scored,
    offline,
)
from flink_agents.detect._scoring import Incident, Scores, score
from flink_agents.detect._spec import AnomalyDetector

__all__ = [
    "Anomaly",
    "AnomalyDetector",
    "Baseline",
    "Contributor",
    "DetectorCore",
    "Incident",
    "KeyState",
    "Offline",
    "Scored",
    "Scores",
    "offline",
    "score",
]
