"""What `submit` shows when `flink run` fails, read from output `flink run` really printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from flink_agents.config import load_settings
from flink_agents.errors import ConfigError
from flink_agents.local import ClusterJobs, FlinkCluster
from flink_agents.local._jobs import submit_error

CAPTURED = Path(__file__).with_name("captured")


def captured(name: str) -> tuple[str, str]:
    return tuple(  # type: ignore[return-value]
        (CAPTURED / f"{name}.{stream}.txt").read_text() for stream in ("stdout", "stderr")
    )


def test_a_refused_resume_shows_flinks_own_reason_and_what_to_do():
    # An agent added on a topic the job already reads, resumed from a savepoint.
    stdout, stderr = captured("resume_with_added_agent")
    message = submit_error(stdout, stderr, savepoint="file:/sp/savepoint-7fe477")
    first, advice, *traceback = message.splitlines()
    assert first.startswith("Flink refused the job: java.lang.IllegalStateException: ")
    assert "Cannot map checkpoint/savepoint state for operator 61a8f396" in first
    assert "because the operator is not available in the new program" in first
    assert "Python process exits with code" not in message  # flink run's own wrapper
    assert "file:/sp/savepoint-7fe477" in advice
    assert "flink-agents submit --allow-non-restored-state" in advice
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1].startswith("py4j.protocol.Py4JJavaError")
    assert not any(line.lstrip().startswith("at ") for line in traceback)


def test_without_a_savepoint_there_is_no_advice_about_one():
    stdout, stderr = captured("resume_with_added_agent")
    assert "--allow-non-restored-state" not in submit_error(stdout, stderr)


def test_allowing_non_restored_state_without_a_savepoint_is_refused(tmp_path: Path):
    jobs = ClusterJobs(FlinkCluster(load_settings({"home": str(tmp_path)}, environ={}, file=None)))
    with pytest.raises(ConfigError, match="goes with --savepoint"):
        jobs.submit(tmp_path / "job.py", allow_non_restored_state=True)
