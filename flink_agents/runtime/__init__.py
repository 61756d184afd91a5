"""The Flink side: job environments, Kafka I/O, the agent operator and the call executor.

Each name is imported when first used: PyFlink by the names that need it, and the model
and MCP clients by the toolbox (an agent's tools on a worker) and ``AgentModels``, which
``flink_agents.testing.run_agent`` also uses without PyFlink. The client that builds a job
loads neither client library: only the TaskManagers run calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flink_agents._lazy import lazy_names
from flink_agents.runtime._results import cut, failure
from flink_agents.runtime._topics import ensure_topics

if TYPE_CHECKING:
    from flink_agents.runtime._app import AgentApp
    from flink_agents.runtime._env import environments, job_configuration
    from flink_agents.runtime._kafka_io import (
        KIND_HEADER,
        SINK_ROW,
        SINK_ROW_WITH_HEADERS,
        SOURCE_ROW,
        KafkaTables,
        literal,
    )
    from flink_agents.runtime._models import AgentModels
    from flink_agents.runtime._replay import ReplayPlan
    from flink_agents.runtime._toolbox import Toolbox, ToolOutcome

_LAZY_NAMES = {
    "AgentApp": "flink_agents.runtime._app",
    "AgentModels": "flink_agents.runtime._models",
    "Toolbox": "flink_agents.runtime._toolbox",
    "ToolOutcome": "flink_agents.runtime._toolbox",
    "KIND_HEADER": "flink_agents.runtime._kafka_io",
    "KafkaTables": "flink_agents.runtime._kafka_io",
    "ReplayPlan": "flink_agents.runtime._replay",
    "literal": "flink_agents.runtime._kafka_io",
    "SINK_ROW": "flink_agents.runtime._kafka_io",
    "SINK_ROW_WITH_HEADERS": "flink_agents.runtime._kafka_io",
    "SOURCE_ROW": "flink_agents.runtime._kafka_io",
    "environments": "flink_agents.runtime._env",
    "job_configuration": "flink_agents.runtime._env",
}

__getattr__ = lazy_names(__name__, _LAZY_NAMES)


__all__ = [
    "KIND_HEADER",
    "SINK_ROW",
    "SINK_ROW_WITH_HEADERS",
    "SOURCE_ROW",
    "AgentApp",
    "AgentModels",
    "KafkaTables",
    "ReplayPlan",
    "ToolOutcome",
    "Toolbox",
    "cut",
    "ensure_topics",
    "environments",
    "failure",
    "job_configuration",
    "literal",
]
