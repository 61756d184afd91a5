"""Exactly-once outputs: the Kafka transaction timeout, and the checks made before a job runs.

Flink's exactly-once Kafka sink keeps a transaction open from one checkpoint to the next and
commits it when the checkpoint completes. The broker aborts a transaction older than the
producer's ``transaction.timeout.ms`` and refuses a producer asking for more than its own
``transaction.max.timeout.ms`` (15 minutes by default); Flink asks for one hour unless told
otherwise, so without a derived timeout the job fails on every start and restarts forever.
"""

from __future__ import annotations

import logging

from flink_agents.config import RuntimeSettings
from flink_agents.errors import ConfigError

log = logging.getLogger(__name__)

#: The shortest derived timeout: room for a restart after a failure (a TaskManager noticed
#: dead, the job rescheduled and restored) before the open transaction would be aborted.
MIN_TIMEOUT_S = 300.0
#: A derived timeout spans this many checkpoint intervals.
INTERVALS = 10
_BROKER_LIMIT = "transaction.max.timeout.ms"


def transaction_timeout_s(runtime: RuntimeSettings) -> float:
    """``runtime.transaction_timeout_s``, or when it is 0, ten checkpoint intervals and at
    least five minutes.

    >>> transaction_timeout_s(RuntimeSettings(checkpoint_interval_s=10))
    300.0
    >>> transaction_timeout_s(RuntimeSettings(checkpoint_interval_s=60))
    600.0
    >>> transaction_timeout_s(RuntimeSettings(transaction_timeout_s=120))
    120.0
    """
    if runtime.transaction_timeout_s > 0:
        return runtime.transaction_timeout_s
    return max(MIN_TIMEOUT_S, INTERVALS * runtime.checkpoint_interval_s)


def check_settings(runtime: RuntimeSettings, app: str) -> float:
    """The transaction timeout for ``app``'s exactly-once outputs; a ``ConfigError`` when the
    settings cannot give exactly once.

    >>> check_settings(RuntimeSettings(checkpoint_interval_s=0), "fraud")
    Traceback (most recent call last):
    ...
    flink_agents.errors.ConfigError: app 'fraud' asks for exactly_once=True, but ...
    """
    interval = runtime.checkpoint_interval_s
    if interval <= 0:
        raise ConfigError(
            f"app {app!r} asks for exactly_once=True, but checkpointing is off "
            "(runtime.checkpoint_interval_s is 0): transactions are committed on checkpoints, "
            "so no output would ever be visible to read_committed consumers. Set "
            "runtime.checkpoint_interval_s above 0, or drop exactly_once."
        )
    timeout = transaction_timeout_s(runtime)
    if timeout <= interval:
        raise ConfigError(
            f"app {app!r}: runtime.transaction_timeout_s ({timeout:g}) must be longer than "
            f"runtime.checkpoint_interval_s ({interval:g}), or every transaction is aborted "
            "before its checkpoint commits it; raise it, or set it to 0 to derive it"
        )
    return timeout


def check_broker(bootstrap_servers: str, timeout_s: float, app: str) -> None:
    """Fail when the broker's ``transaction.max.timeout.ms`` is below ``timeout_s``.

    A broker that does not let us read its configuration (an ACL) is not an error: the
    limit is then checked by the broker itself when the job starts, and logged here.
    """
    limit_ms = broker_transaction_limit_ms(bootstrap_servers)
    wanted_ms = int(timeout_s * 1000)
    if limit_ms is None:
        log.warning(
            "could not read %s from Kafka at %s; app %s needs it at least %d",
            _BROKER_LIMIT,
            bootstrap_servers,
            app,
            wanted_ms,
        )
        return
    if limit_ms < wanted_ms:
        raise ConfigError(
            f"app {app!r} writes its outputs in Kafka transactions of up to {wanted_ms} ms "
            f"(runtime.transaction_timeout_s), but the broker at {bootstrap_servers} allows "
            f"at most {limit_ms} ms ({_BROKER_LIMIT}). Lower runtime.transaction_timeout_s "
            f"to {limit_ms // 1000} or less (it must stay above the checkpoint interval), "
            f"or raise {_BROKER_LIMIT} on the broker."
        )


def broker_transaction_limit_ms(bootstrap_servers: str) -> int | None:
    """The smallest ``transaction.max.timeout.ms`` of the cluster's brokers, or None when
    it cannot be read."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not in its stubs
        AdminClient,
        ConfigResource,
        ResourceType,
    )
    from confluent_kafka.cimpl import KafkaException

    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        brokers = admin.list_topics(timeout=15).brokers
    except KafkaException as exc:
        raise ConfigError(
            f"Kafka at {bootstrap_servers} did not answer ({exc}). Is it running? "
            "`flink-agents local up` starts a local one."
        ) from None
    resources = [ConfigResource(ResourceType.BROKER, str(b)) for b in brokers]
    limits = []
    for future in admin.describe_configs(resources).values():
        try:
            entry = future.result(timeout=15).get(_BROKER_LIMIT)
        except KafkaException:
            return None
        if entry is None or entry.value is None:
            return None
        limits.append(int(entry.value))
    return min(limits) if limits else None
