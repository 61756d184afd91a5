"""What users write: agents, tools, models, MCP servers, and the events they produce."""

from flink_agents.api._agent import Agent, Limits, Memory, Reflection
from flink_agents.api._loader import agent_from_dict, load_agent
from flink_agents.api._mcp import McpServer
from flink_agents.api._model import OpenAIModel
from flink_agents.api._tools import FunctionTool, ToolContext, tool

__all__ = [
    "Agent",
    "FunctionTool",
    "Limits",
    "McpServer",
    "Memory",
    "OpenAIModel",
    "Reflection",
    "ToolContext",
    "agent_from_dict",
    "load_agent",
    "tool",
]
