"""flink-agents: event-driven AI agents inside Apache Flink, with Kafka as the backbone.

One import line covers an agent file::

    from flink_agents import Agent, AgentApp, Limits, McpServer, Memory, OpenAIModel, tool

``AgentApp`` loads PyFlink when it is first used, so code that only describes or tests
agents (``flink_agents.testing.run_agent``) does not; ``AnomalyDetector`` loads numpy the
same way.
"""

import typing as _typing

from flink_agents.api import (
    Agent,
    FunctionTool,
    Limits,
    McpServer,
    Memory,
    OpenAIModel,
    ToolContext,
    load_agent,
    tool,
)

if _typing.TYPE_CHECKING:
    from flink_agents.detect import AnomalyDetector
    from flink_agents.runtime import AgentApp


def __getattr__(name: str) -> _typing.Any:
    if name == "AgentApp":
        from flink_agents.runtime import AgentApp

        return AgentApp
    if name == "AnomalyDetector":  # the detector's package loads numpy
        from flink_agents.detect import AnomalyDetector

        return AnomalyDetector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "AgentApp", "AnomalyDetector"})


__all__ = [
    "Agent",
    "AgentApp",
    "AnomalyDetector",
    "FunctionTool",
    "Limits",
    "McpServer",
    "Memory",
    "OpenAIModel",
    "ToolContext",
    "load_agent",
    "tool",
]
