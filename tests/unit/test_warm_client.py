"""The warm client's parts that need no running stack: fallback, status and its lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from flink_agents.config import Settings, load_settings
from flink_agents.errors import StackError
from flink_agents.local import ClusterJobs, FlinkCluster, LocalStack, RemoteCluster, WarmClient


def settings(home: Path, **flink: object) -> Settings:
    return load_settings({"home": str(home), "flink": flink}, environ={}, file=None)


def test_submit_uses_flink_run_when_no_warm_client_runs(tmp_path: Path):
    jobs = ClusterJobs(FlinkCluster(settings(tmp_path)))
    assert jobs._submit_warm(tmp_path / "job.py", [], None, False, {}, 5.0) is None


def test_submit_to_a_target_cluster_never_uses_the_warm_client(tmp_path: Path):
    remote = load_settings(
        {"home": str(tmp_path), "cluster": {"target": "127.0.0.1:1"}}, environ={}, file=None
    )
    assert RemoteCluster(remote).warm_client() is None


def test_status_lists_the_client_only_when_it_is_on(tmp_path: Path):
    on = [p.name for p in LocalStack(settings(tmp_path)).status()]
    off = [p.name for p in LocalStack(settings(tmp_path, warm_client=False)).status()]
    assert on == ["kafka", "flink", "client"]
    assert off == ["kafka", "flink"]
    [client] = [p for p in LocalStack(settings(tmp_path)).status() if p.name == "client"]
    assert not client.running and "flink run" in client.detail


def test_a_second_job_waits_for_the_client_and_gives_up_naming_the_setting(tmp_path: Path):
    first, second = WarmClient(settings(tmp_path)), WarmClient(settings(tmp_path))
    busy = r"busy with another job.*flink\.warm_client: false"
    with first.held(5.0), pytest.raises(StackError, match=busy), second.held(0.3):
        pass
    with second.held(0.3):  # free again once the first job is done
        pass
