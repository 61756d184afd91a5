"""The local stack: Kafka (KRaft, one node) and a Flink standalone cluster with its warm
client, up and down together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flink_agents.config import Settings
from flink_agents.local._flink import FlinkCluster
from flink_agents.local._kafka import KafkaBroker
from flink_agents.local._status import PartStatus


@dataclass
class LocalStack:
    """Both parts of the local stack, with their files under ``settings.home``.

    >>> from flink_agents.config import load_settings
    >>> stack = LocalStack(load_settings(environ={}, file=None))
    >>> [part.name for part in stack.status()]
    ['kafka', 'flink', 'client']
    """

    settings: Settings
    kafka: KafkaBroker = field(init=False)
    flink: FlinkCluster = field(init=False)

    def __post_init__(self) -> None:
        self.kafka = KafkaBroker(self.settings)
        self.flink = FlinkCluster(self.settings)

    def up(self, on_step: Callable[[str], None] = lambda _: None) -> None:
        """Start what is not running and wait until each part is ready."""
        on_step("kafka")
        self.kafka.start()
        on_step("flink")
        self.flink.start()

    def down(self) -> None:
        """Stop exactly the processes this stack started (found through its pid files)."""
        self.flink.stop()
        self.kafka.stop()

    def status(self) -> list[PartStatus]:
        parts = [self.kafka.status(), self.flink.status()]
        if self.settings.flink.warm_client:
            parts.append(self.flink.warm_client().status())
        return parts
