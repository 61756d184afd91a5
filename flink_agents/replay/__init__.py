"""Replays of a job's inputs (exact, from the events log, or what-if) and their diff."""

from flink_agents.replay._diff import Diff, InputDiff, diff
from flink_agents.replay._runner import ReplayResult, run_replay

__all__ = ["Diff", "InputDiff", "ReplayResult", "diff", "run_replay"]
