"""The Flink side: job environments, Kafka I/O and the agent operators."""

from flink_agents.runtime._env import environments, job_configuration
from flink_agents.runtime._kafka_io import SINK_ROW, SINK_ROW_WITH_HEADERS, SOURCE_ROW, KafkaTables

__all__ = [
    "SINK_ROW",
    "SINK_ROW_WITH_HEADERS",
    "SOURCE_ROW",
    "KafkaTables",
    "environments",
    "job_configuration",
]
