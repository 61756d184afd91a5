"""The Flink side: job environments, Kafka I/O, the agent operator and the call executor."""

from flink_agents.runtime._app import AgentApp
from flink_agents.runtime._env import environments, job_configuration
from flink_agents.runtime._kafka_io import SINK_ROW, SINK_ROW_WITH_HEADERS, SOURCE_ROW, KafkaTables

__all__ = [
    "SINK_ROW",
    "SINK_ROW_WITH_HEADERS",
    "SOURCE_ROW",
    "AgentApp",
    "KafkaTables",
    "environments",
    "job_configuration",
]
