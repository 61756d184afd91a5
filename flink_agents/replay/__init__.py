"""Replays of a job's inputs (exact, from the events log, or what-if) and their diff."""

from flink_agents.replay._diff import Diff, InputDiff, diff
from flink_agents.replay._runner import ReplayResult, run_replay
from flink_agents.replay._savepoint import StartingPoint, replay_start_ms, starting_point

__all__ = [
    "Diff",
    "InputDiff",
    "ReplayResult",
    "StartingPoint",
    "diff",
    "replay_start_ms",
    "run_replay",
    "starting_point",
]
