"""The card registry: agent cards in a compacted Kafka topic, keyed by agent name.

A job publishes the cards of the agents it hosts when it is built; ``flink-agents agents``
and callers building their peer tools read them. The topic keeps the newest card per name.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format

from flink_agents.a2a._wire import to_json
from flink_agents.errors import ConfigError

#: The compacted topic of agent cards.
CARDS_TOPIC = "a2a.cards"


def publish_cards(bootstrap_servers: str, cards: Iterable[Any], timeout: float = 30.0) -> int:
    """Write cards to the registry (creating its compacted topic); return how many."""
    from confluent_kafka import Producer

    ensure_cards_topic(bootstrap_servers)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "client.id": "flink-agents-cards"})
    count = 0
    for card in cards:
        producer.produce(CARDS_TOPIC, key=card.name.encode(), value=to_json(card).encode())
        count += 1
    if producer.flush(timeout) > 0:
        raise ConfigError(f"could not publish agent cards to {CARDS_TOPIC} at {bootstrap_servers}")
    return count


def ensure_cards_topic(bootstrap_servers: str) -> None:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import KafkaError, KafkaException, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    topic = NewTopic(CARDS_TOPIC, 1, 1, config={"cleanup.policy": "compact"})
    try:
        admin.create_topics([topic])[CARDS_TOPIC].result(timeout=30)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if error is None or error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise ConfigError(f"could not create topic {CARDS_TOPIC}: {exc}") from None


def read_cards(bootstrap_servers: str, timeout: float = 15.0) -> dict[str, Any]:
    """The newest card of each agent in the registry, by name (empty if there is none)."""
    from a2a.types import AgentCard
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"flink-agents-cards-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        try:
            metadata = consumer.list_topics(CARDS_TOPIC, timeout=10).topics.get(CARDS_TOPIC)
        except KafkaException as exc:
            raise ConfigError(f"Kafka at {bootstrap_servers} did not answer: {exc}") from None
        if metadata is None or metadata.error is not None:
            return {}
        parts = [TopicPartition(CARDS_TOPIC, p, 0) for p in metadata.partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        remaining = {p for p, end in ends.items() if end > 0}
        consumer.assign(parts)
        cards: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            if (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                remaining.discard(message.partition() or 0)
            key, value = message.key(), message.value()
            if not key:
                continue
            if value is None:  # a tombstone: the agent was removed
                cards.pop(key.decode(), None)
                continue
            try:
                cards[key.decode()] = json_format.Parse(
                    value, AgentCard(), ignore_unknown_fields=True
                )
            except (json_format.ParseError, json.JSONDecodeError):
                continue  # not a card: the registry keeps only what reads as one
        return cards
    finally:
        consumer.close()
