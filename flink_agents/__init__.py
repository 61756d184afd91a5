"""flink-agents: event-driven AI agents inside Apache Flink, with Kafka as the backbone.

One import line covers an agent file::

    from flink_agents import Agent, AgentApp, Limits, McpServer, Memory, OpenAIModel, tool
"""

from flink_agents.api import (
    Agent,
    FunctionTool,
    Limits,
    McpServer,
    Memory,
    OpenAIModel,
    load_agent,
    tool,
)
from flink_agents.detect import AnomalyDetector
from flink_agents.runtime import AgentApp

__all__ = [
    "Agent",
    "AgentApp",
    "AnomalyDetector",
    "FunctionTool",
    "Limits",
    "McpServer",
    "Memory",
    "OpenAIModel",
    "load_agent",
    "tool",
]
