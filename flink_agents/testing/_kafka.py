"""Real Kafka for tests: create topics, produce JSON, and consume until a condition holds."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from flink_agents.api.events import KIND_HEADER, events_in, is_step_event, results_only
from flink_agents.local import poll

Headers = Mapping[str, str | bytes]
_COORDINATOR_NOT_READY = (
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
)


@dataclass(frozen=True)
class Record:
    """A consumed record; ``value`` is decoded JSON when it parses, else the text."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: Any
    headers: dict[str, bytes] = field(default_factory=dict)
    timestamp: float | None = None  # epoch seconds the producer (or broker) stamped

    def header(self, name: str) -> str | None:
        raw = self.headers.get(name)
        return raw.decode() if raw is not None else None


class TopicClient:
    """Topics, producing and consuming on a real broker, for tests and demos.

    >>> client = TopicClient("127.0.0.1:9092")   # doctest: +SKIP
    >>> topic = client.create(client.unique("orders"))   # doctest: +SKIP
    >>> client.produce(topic, [{"id": 1}], key=lambda r: str(r["id"]))   # doctest: +SKIP
    >>> [r.value for r in client.consume(topic, count=1)]   # doctest: +SKIP
    [{'id': 1}]
    """

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._admin_client: AdminClient | None = None
        self._producer: Producer | None = None

    @property
    def _admin(self) -> AdminClient:
        if self._admin_client is None:
            self._admin_client = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        return self._admin_client

    @staticmethod
    def unique(prefix: str) -> str:
        """A topic name no other test uses: ``prefix`` plus a random suffix."""
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def create(self, *names: str, partitions: int = 1, config: dict[str, str] | None = None) -> str:
        """Create topics (existing ones are kept); return the first name."""
        futures = self._admin.create_topics(
            [NewTopic(n, partitions, 1, config=config or {}) for n in names]
        )
        for name, future in futures.items():
            try:
                future.result(timeout=30)
            except Exception as exc:
                if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue
                raise RuntimeError(f"could not create topic {name}: {exc}") from exc
        return names[0]

    def topics(self) -> set[str]:
        return set(self._admin.list_topics(timeout=10).topics)

    def delete(self, *names: str, timeout: float = 30.0) -> None:
        """Delete those of the topics that exist, and wait until the broker lists none."""
        existing = set(names) & self.topics()
        if not existing:
            return
        for future in self._admin.delete_topics(sorted(existing)).values():
            future.result(timeout)
        if poll(lambda: not existing & self.topics() or None, timeout) is None:
            raise RuntimeError(f"topics {sorted(existing & self.topics())} still exist")

    def delete_groups(self, *group_ids: str, timeout: float = 30.0) -> None:
        """Delete consumer groups with their committed offsets; missing groups are fine."""
        for future in self._admin.delete_consumer_groups(list(group_ids)).values():
            with contextlib.suppress(KafkaException):
                future.result(timeout)

    def produce(
        self,
        topic: str,
        records: Iterable[Any],
        *,
        key: Callable[[Any], str | None] | str | None = None,
        headers: Headers | None = None,
    ) -> int:
        """Send records (dicts and lists as JSON, str and bytes as they are); return the count."""
        if self._producer is None:
            self._producer = Producer(
                {"bootstrap.servers": self.bootstrap_servers, "linger.ms": 2, "acks": "all"}
            )
        sent = 0
        for record in records:
            record_key = key(record) if callable(key) else key
            self._producer.produce(
                topic,
                value=_encode(record),
                key=record_key.encode() if record_key is not None else None,
                headers=[
                    (k, v.encode() if isinstance(v, str) else v) for k, v in (headers or {}).items()
                ],
            )
            sent += 1
            if sent % 1000 == 0:
                self._producer.poll(0)
        remaining = self._producer.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} records to {topic} were not acknowledged within 30s")
        return sent

    def consume(
        self,
        *topics: str,
        count: int | None = None,
        until: Callable[[list[Record]], bool] | None = None,
        timeout: float = 60.0,
        read_committed: bool = True,
    ) -> list[Record]:
        """Read from the beginning until ``count`` records arrived or ``until`` holds.

        Raises ``TimeoutError`` listing what did arrive, so a failing test says how far it got.
        """
        if count is None and until is None:
            raise ValueError("give count= or until= so consume knows when to stop")
        done = until or (lambda got: len(got) >= (count or 0))
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"test-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            }
        )
        consumer.subscribe(list(topics))
        got: list[Record] = []
        deadline = time.monotonic() + timeout
        try:
            while not done(got):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"after {timeout:.0f}s {len(got)} records from {', '.join(topics)}"
                        f"{'' if count is None else f' (wanted {count})'}; last: "
                        f"{[r.value for r in got[-3:]]}"
                    )
                message = consumer.poll(0.2)
                if message is None or message.error():
                    continue
                got.append(_record(message))
        finally:
            consumer.close()
        return got

    def events(
        self,
        topic: str,
        until: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 60.0,
    ) -> list[dict[str, Any]]:
        """The events of an app's events topic from the beginning, one per event, until
        ``until`` holds: an agent step's record gives each of its events, in order. A topic
        of results only (``runtime.events_log: results``) has no step's events to wait for:
        the timeout says so.

        >>> events = client.events("fraud.events", until=lambda es: any(  # doctest: +SKIP
        ...     e["kind"] == "task.completed" for e in es))
        """
        found: list[dict[str, Any]] = []

        def done(records: list[Record]) -> bool:
            for record in records[len(taken) :]:
                taken.append(record)
                if isinstance(record.value, dict):
                    found.extend(events_in(record.headers.get(KIND_HEADER), record.value))
            return until(found)

        taken: list[Record] = []
        try:
            self.consume(topic, until=done, timeout=timeout)
        except TimeoutError as exc:
            if found and not any(is_step_event(e) for e in found):
                raise TimeoutError(
                    f"{exc}; {results_only(topic, 'no steps to wait for')}"
                ) from None
            raise
        return found

    def count(self, topic: str) -> int:
        """Records on ``topic`` now (end offsets minus start offsets over its partitions)."""
        probe = Consumer({"bootstrap.servers": self.bootstrap_servers, "group.id": "count"})
        try:
            partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
            total = 0
            for p in partitions:
                low, high = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                total += high - low
            return total
        finally:
            probe.close()

    def lag(self, group_id: str, topic: str) -> int | None:
        """Records of ``topic`` past the offsets ``group_id`` committed (all, if none), or
        None while the broker cannot tell yet (its group coordinator is still loading).

        A Flink Kafka source commits its offsets when a checkpoint completes, so a lag of 0
        means every record of the topic went through the job and what it wrote is flushed.
        """
        consumer = Consumer({"bootstrap.servers": self.bootstrap_servers, "group.id": group_id})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            wanted = [TopicPartition(topic, p) for p in partitions]
            behind = 0
            for committed in consumer.committed(wanted, timeout=10):
                low, high = consumer.get_watermark_offsets(committed, timeout=10)
                behind += high - (committed.offset if committed.offset >= 0 else low)
            return behind
        except KafkaException as exc:
            if exc.args and exc.args[0].code() in _COORDINATOR_NOT_READY:
                return None
            raise
        finally:
            consumer.close()

    def close(self) -> None:
        """Flush what was produced and let go of the clients, so none of them is left
        connected (and logging disconnects) when the broker stops; a later call opens new
        ones."""
        if self._producer is not None:
            self._producer.flush(10)
        self._producer = None
        self._admin_client = None


def _encode(record: Any) -> bytes:
    if isinstance(record, bytes):
        return record
    if isinstance(record, str):
        return record.encode()
    return json.dumps(record).encode()


def _record(message: Any) -> Record:
    raw = message.value()
    text = raw.decode("utf-8", errors="replace") if raw is not None else None
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = text
    key = message.key()
    _, stamp = message.timestamp()
    return Record(
        topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        key=key.decode() if key is not None else None,
        value=value,
        headers={k: v for k, v in (message.headers() or [])},
        timestamp=stamp / 1000 if stamp > 0 else None,
    )
