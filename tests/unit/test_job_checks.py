"""Checks made when a job is built: exactly-once outputs need checkpoints and a transaction
timeout the broker accepts; a replay needs a time range."""

from __future__ import annotations

import pytest

from flink_agents import Agent, AgentApp, OpenAIModel
from flink_agents.config import load_settings
from flink_agents.errors import ConfigError
from flink_agents.runtime._transactions import transaction_timeout_s

AGENT = Agent(name="triage", instructions="Decide.", model=OpenAIModel(model="m"))


def app(**runtime: object) -> AgentApp:
    settings = load_settings({"runtime": runtime}, environ={}, file=None)
    built = AgentApp("fraud", settings=settings, exactly_once=True)
    built.source("transactions", key="card_id")
    return built.add(AGENT, outputs="decisions")


def test_exactly_once_without_checkpoints_is_refused_when_the_job_is_built():
    with pytest.raises(ConfigError, match=r"checkpointing is off.*checkpoint_interval_s above 0"):
        app(checkpoint_interval_s=0).build()


def test_a_transaction_timeout_shorter_than_a_checkpoint_is_refused():
    with pytest.raises(ConfigError, match=r"transaction_timeout_s \(5\) must be longer"):
        app(checkpoint_interval_s=10, transaction_timeout_s=5).build()


@pytest.mark.parametrize("interval", [0.5, 2, 10, 60, 90])
def test_derived_timeout_outlasts_ten_checkpoints_and_fits_the_default_broker_limit(
    interval: float,
):
    settings = load_settings(
        {"runtime": {"checkpoint_interval_s": interval}}, environ={}, file=None
    )
    timeout = transaction_timeout_s(settings.runtime)
    assert timeout >= 10 * interval
    assert timeout <= 900  # Kafka's default transaction.max.timeout.ms: 15 minutes


def test_transaction_timeout_is_read_from_the_environment():
    env = {"FLINK_AGENTS_RUNTIME__TRANSACTION_TIMEOUT_S": "120"}
    assert transaction_timeout_s(load_settings(environ=env, file=None).runtime) == 120


def test_a_replay_without_an_end_is_refused_before_anything_is_created():
    settings = load_settings({"replay": {"name": "r1", "from_ms": 5}}, environ={}, file=None)
    built = AgentApp("fraud", settings=settings)
    built.source("transactions", key="card_id")
    built.add(AGENT, outputs="decisions")
    with pytest.raises(ConfigError, match=r"replay\.to_ms \(0\) must be after replay\.from_ms"):
        built.build()


def test_a_savepoint_without_a_replay_name_is_refused_before_anything_is_created():
    settings = load_settings({"replay": {"savepoint": "/sp/savepoint-1"}}, environ={}, file=None)
    built = AgentApp("fraud", settings=settings)
    built.source("transactions", key="card_id")
    built.add(AGENT, outputs="decisions")
    with pytest.raises(ConfigError, match=r"replay\.savepoint is set but replay\.name is not"):
        built.build()


def test_a_replay_from_a_savepoint_restores_only_the_agent_operator():
    from flink_agents.runtime._env import job_configuration

    replay = {"name": "r1", "from_ms": 5, "to_ms": 9, "savepoint": "/sp/savepoint-1"}
    settings = load_settings({"replay": replay, "runtime": {"ship_jars": False}}, file=None)
    conf = job_configuration(settings, "fraud", []).to_dict()
    assert conf["execution.state-recovery.path"] == "/sp/savepoint-1"
    assert conf["execution.state-recovery.claim-mode"] == "NO_CLAIM"
    assert conf["execution.state-recovery.ignore-unclaimed-state"] == "true"
    assert conf["table.exec.uid.format"].startswith("replay-r1-")
    live = load_settings({"runtime": {"ship_jars": False}}, environ={}, file=None)
    assert "execution.state-recovery.path" not in job_configuration(live, "fraud", []).to_dict()
