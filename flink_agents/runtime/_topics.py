"""Make sure the topics a job reads and writes exist before Flink starts reading them."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flink_agents.errors import ConfigError

log = logging.getLogger(__name__)


def ensure_topics(bootstrap_servers: str, names: Iterable[str], partitions: int = 1) -> list[str]:
    """Create the missing topics; return the names created."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import KafkaError, KafkaException, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    try:
        existing = set(admin.list_topics(timeout=15).topics)
    except KafkaException as exc:
        raise ConfigError(
            f"Kafka at {bootstrap_servers} did not answer ({exc}). Is it running? "
            "`flink-agents local up` starts a local one."
        ) from None
    missing = sorted(set(names) - existing)
    if not missing:
        return []
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in missing])
    for name, future in futures.items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if (
                exc.args
                and getattr(exc.args[0], "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS
            ):
                continue
            raise ConfigError(f"could not create topic {name}: {exc}") from None
        log.info("created topic %s", name)
    return missing


def delete_topics(bootstrap_servers: str, names: Iterable[str]) -> None:
    """Delete these topics (those that exist), waiting until the broker has."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import KafkaError, KafkaException

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for name, future in admin.delete_topics(list(names), operation_timeout=30).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            code = getattr(exc.args[0], "code", lambda: None)() if exc.args else None
            if code != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise ConfigError(f"could not delete topic {name}: {exc}") from None
