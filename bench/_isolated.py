"""An isolated Kafka for the A2A latency scripts: free ports, a temporary home."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flink_agents.config import Settings, load_settings
from flink_agents.local import KafkaBroker, free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Isolated:
    home: Path
    settings: Settings
    broker: KafkaBroker

    def job_env(self) -> dict[str, str]:
        """This process's environment for a job on this Kafka (no other FLINK_AGENTS_*)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLINK_AGENTS_")}
        env.update(
            FLINK_AGENTS_HOME=str(self.home),
            FLINK_AGENTS_CACHE=str(self.settings.cache),
            FLINK_AGENTS_KAFKA__PORT=str(self.settings.kafka.port),
        )
        return env


def start_kafka(name: str) -> Isolated:
    """Start a broker of its own; the caller stops ``broker``."""
    home = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    settings = load_settings(
        {
            "home": str(home),
            "cache": os.environ.get("FLINK_AGENTS_CACHE", str(ROOT / ".flink-agents" / "cache")),
            "kafka": {"port": free_port(), "controller_port": free_port()},
        },
        environ={},
        file=None,
    )
    broker = KafkaBroker(settings)
    broker.start()
    return Isolated(home, settings, broker)
