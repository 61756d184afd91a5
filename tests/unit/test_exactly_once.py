"""Exactly-once outputs: refused without checkpoints, with a transaction timeout the broker
accepts by default."""

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
