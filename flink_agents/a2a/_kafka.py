"""Kafka for the gateway's asyncio loop: delivered writes as awaitables, topics read in threads.

The ``confluent_kafka`` clients block; the gateway's event loop must not. A producer is
polled by a thread of its own and each write resolves a future on the loop when the broker
has it; a compacted topic is read by a thread into a dict, from the beginning, so the
newest value of every key is known once the reader has caught up.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flink_agents.errors import ConfigError

Headers = dict[str, bytes]


class AsyncProducer:
    """A Kafka producer whose ``send`` returns when the record is written (acks=all)."""

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "client.id": client_id,
                "enable.idempotence": True,
                "linger.ms": 0,
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"{client_id}-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, topic: str, key: str, value: str | None, headers: Headers) -> None:
        """Write one record; raise ``ConfigError`` naming the topic when Kafka refuses it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def delivered(error: Any, _message: Any) -> None:
            loop.call_soon_threadsafe(_settle, done, error, topic)

        self._producer.produce(
            topic,
            key=key.encode(),
            value=value.encode() if value is not None else None,
            headers=list(headers.items()),
            on_delivery=delivered,
        )
        await done

    def write(self, topic: str, key: str, value: str, headers: Headers, timeout: float) -> None:
        """Write one record from a thread and wait for it (the reply reader's way)."""
        self._producer.produce(
            topic, key=key.encode(), value=value.encode(), headers=list(headers.items())
        )
        if self._producer.flush(timeout) > 0:
            raise ConfigError(f"Kafka did not take a record for {topic} within {timeout:.0f}s")

    def close(self) -> None:
        self._producer.flush(10)
        self._stop.set()
        self._thread.join(5)


def _settle(future: asyncio.Future[None], error: Any, topic: str) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(ConfigError(f"could not write to Kafka topic {topic}: {error}"))
    else:
        future.set_result(None)


class CompactedReader:
    """Reads a (compacted) topic from the beginning in a thread; the newest value per key.

    ``on_record(key, value)`` runs in the reader's thread for every record, in order;
    ``wait_caught_up`` returns once the records that were in the topic at start are read.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        on_record: Callable[[str, bytes | None], None],
    ) -> None:
        self.bootstrap_servers, self.topic, self._on_record = bootstrap_servers, topic, on_record
        self._caught_up = threading.Event()
        self._stop = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"read-{topic}", daemon=True)

    def start(self) -> CompactedReader:
        self._thread.start()
        return self

    def wait_caught_up(self, timeout: float) -> None:
        if not self._caught_up.wait(timeout) or self._error:
            why = self._error or f"did not catch up within {timeout:.0f}s"
            raise ConfigError(
                f"could not read topic {self.topic} at {self.bootstrap_servers}: {why}"
            )

    def _run(self) -> None:
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"flink-agents-read-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": 5000,
            }
        )
        try:
            try:
                metadata = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
                parts = [TopicPartition(self.topic, p, 0) for p in metadata.partitions]
                ends = {
                    p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts
                }
            except KafkaException as exc:
                self._error = str(exc)
                self._caught_up.set()
                return
            remaining = {p for p, end in ends.items() if end > 0}
            consumer.assign(parts)
            if not remaining:
                self._caught_up.set()
            while not self._stop.is_set():
                message = consumer.poll(0.2)
                if message is None or message.error():
                    continue
                partition, offset = message.partition() or 0, message.offset() or 0
                key = message.key()
                if key:
                    self._on_record(key.decode(), message.value())
                if remaining and offset + 1 >= ends.get(partition, 0):
                    remaining.discard(partition)
                    if not remaining:
                        self._caught_up.set()
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def ensure_topic(
    bootstrap_servers: str, topic: str, *, compacted: bool, partitions: int = 1
) -> None:
    """Create ``topic`` unless it exists; raise ``ConfigError`` saying why it could not be."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import KafkaError, KafkaException, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    try:
        admin.list_topics(timeout=10)
    except KafkaException as exc:
        raise ConfigError(
            f"Kafka at {bootstrap_servers} did not answer ({exc}): is it running "
            "(`flink-agents local status`), and do the kafka settings point at it?"
        ) from None
    config = {"cleanup.policy": "compact"} if compacted else {}
    try:
        admin.create_topics([NewTopic(topic, partitions, 1, config=config)])[topic].result(
            timeout=30
        )
    except TimeoutError:
        raise ConfigError(
            f"Kafka at {bootstrap_servers} did not create {topic} within 30s"
        ) from None
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if error is None or error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise ConfigError(
                f"could not create topic {topic} at {bootstrap_servers}: {exc}"
            ) from None
