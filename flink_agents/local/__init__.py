"""The local stack (a Kafka broker, a Flink standalone cluster and its warm client on this
machine), and a remote Flink cluster reached through its REST endpoint."""

from flink_agents.local._agent_metrics import AgentReading, AgentRow, read_agents, rows
from flink_agents.local._flink import FlinkCluster, flink_home
from flink_agents.local._inspect import KeyState, read_key_state
from flink_agents.local._jars import Artifact, bundles, fetch, fetch_artifacts, missing
from flink_agents.local._jobs import ClusterJobs
from flink_agents.local._kafka import KafkaBroker
from flink_agents.local._process import free_port, poll, tail
from flink_agents.local._remote import RemoteCluster
from flink_agents.local._savepoints import list_savepoints
from flink_agents.local._stack import LocalStack
from flink_agents.local._status import PartStatus
from flink_agents.local._warm import WarmClient

__all__ = [
    "AgentReading",
    "AgentRow",
    "Artifact",
    "ClusterJobs",
    "FlinkCluster",
    "KafkaBroker",
    "KeyState",
    "LocalStack",
    "PartStatus",
    "RemoteCluster",
    "WarmClient",
    "bundles",
    "fetch",
    "fetch_artifacts",
    "flink_home",
    "free_port",
    "list_savepoints",
    "missing",
    "poll",
    "read_agents",
    "read_key_state",
    "rows",
    "tail",
]
