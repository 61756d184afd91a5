"""The start-up scan of the events log: every partition from its lookback, and it ends on
partitions whose last record is a transaction marker."""

from __future__ import annotations

import json
import logging

import pytest
from confluent_kafka import Producer

from flink_agents.runtime._kafka_io import KIND_HEADER
from flink_agents.runtime._recorded import RecordedResults
from flink_agents.testing import TopicClient

pytestmark = pytest.mark.integration


def _results(topics: TopicClient, topic: str, partition: int, ids: list[str]) -> None:
    producer = Producer({"bootstrap.servers": topics.bootstrap_servers})
    for event_id in ids:
        value = json.dumps({"kind": "model.response", "id": event_id})
        producer.produce(
            topic, value=value, partition=partition, headers=[(KIND_HEADER, b"model.response")]
        )
    assert producer.flush(30) == 0


def test_scan_reads_every_partition_from_the_lookback(topics: TopicClient) -> None:
    topic = topics.create(topics.unique("scan.events"), partitions=2)
    _results(topics, topic, 0, ["p0-a", "p0-b"])
    _results(topics, topic, 1, ["p1-a"])

    found = RecordedResults(topics.bootstrap_servers, topic).scan(3600, 30)

    assert sorted(found) == ["p0-a", "p0-b", "p1-a"]
    assert found["p0-b"] == (0, 1)


def test_scan_looks_back_only_as_far_as_its_lookback(topics: TopicClient) -> None:
    topic = topics.create(topics.unique("scan.events"))
    _results(topics, topic, 0, ["old"])

    reader = RecordedResults(topics.bootstrap_servers, topic)

    assert sorted(reader.scan(3600, 30)) == ["old"]
    assert reader.scan(0, 30) == {}  # nothing written within the last 0 s


def test_scan_ends_at_a_partition_closed_by_a_transaction_marker(
    topics: TopicClient, caplog: pytest.LogCaptureFixture
) -> None:
    topic = topics.create(topics.unique("scan.events"))
    _results(topics, topic, 0, ["plain"])
    producer = Producer({"bootstrap.servers": topics.bootstrap_servers, "transactional.id": topic})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(
        topic,
        value=json.dumps({"kind": "tool.result", "id": "in-a-transaction"}),
        headers=[(KIND_HEADER, b"tool.result")],
    )
    producer.commit_transaction(30)  # the partition's last offset is now the commit marker

    with caplog.at_level(logging.WARNING, logger="flink_agents.runtime._recorded"):
        found = RecordedResults(topics.bootstrap_servers, topic).scan(3600, 30)

    assert sorted(found) == ["in-a-transaction", "plain"]
    assert "stopped scanning" not in caplog.text  # it ended at the log's end, not by timeout
