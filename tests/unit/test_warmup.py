"""The local stack's warm-up job: what it runs with, whatever the user's settings say."""

from __future__ import annotations

from flink_agents.config import load_settings
from flink_agents.local._warmup_job import NAME, app


def test_the_warm_up_runs_one_subtask_per_taskmanager_and_is_never_a_replay():
    settings = load_settings(
        {"runtime": {"parallelism": 4}, "replay": {"name": "audit-1"}}, environ={}, file=None
    )
    two = app(settings, taskmanagers=2)
    assert two.settings.runtime.parallelism == 2
    assert not two.settings.replay.active
    assert app(settings, taskmanagers=1).settings.runtime.parallelism == 1
    # The user's own settings are left as they were.
    assert settings.runtime.parallelism == 4 and settings.replay.active


def test_every_topic_of_the_warm_up_is_its_own():
    """The warm-up deletes the topics it created: they are all named after it."""
    topics = app(load_settings(environ={}, file=None), create_topics=False).topics()
    assert len(topics) == 4
    assert all(t.startswith(f"{NAME}.") for t in topics)
