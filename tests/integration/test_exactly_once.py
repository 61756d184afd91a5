"""Exactly-once settings checked against a real broker's transaction limit when a job is
built (the TaskManager kill with exactly-once outputs is in test_recovery.py)."""

from __future__ import annotations

import pytest

from flink_agents import Agent, AgentApp, OpenAIModel
from flink_agents.config import load_settings
from flink_agents.errors import ConfigError
from flink_agents.local import KafkaBroker
from flink_agents.runtime._transactions import broker_transaction_limit_ms, check_broker

pytestmark = pytest.mark.integration


def test_the_local_broker_allows_the_derived_timeout(kafka: KafkaBroker):
    bootstrap = kafka.settings.kafka.bootstrap_servers
    assert broker_transaction_limit_ms(bootstrap) == 900_000
    check_broker(bootstrap, 300, "fraud")  # the default: ten 10 s checkpoints, at least 300 s


def test_a_timeout_above_the_broker_limit_fails_the_build_naming_both_settings(
    kafka: KafkaBroker,
):
    settings = load_settings(
        {
            "runtime": {
                "bootstrap_servers": kafka.settings.kafka.bootstrap_servers,
                "transaction_timeout_s": 3600,
            }
        },
        environ={},
        file=None,
    )
    app = AgentApp("fraud", settings=settings, exactly_once=True, create_topics=False)
    app.source("transactions", key="card_id")
    app.add(
        Agent(name="triage", instructions="Decide.", model=OpenAIModel(model="m")),
        outputs="decisions",
    )
    with pytest.raises(ConfigError) as failure:
        app.build()
    message = str(failure.value)
    assert "3600000 ms (runtime.transaction_timeout_s)" in message
    assert "allows at most 900000 ms (transaction.max.timeout.ms)" in message
    assert "Lower runtime.transaction_timeout_s to 900 or less" in message
