"""What users write: agents, tools, models, MCP servers, and the events they produce."""

from flink_agents.api._agent import AGENT_NAME, Agent, Limits, Memory
from flink_agents.api._loader import agent_from_dict, load_agent, model_from_schema
from flink_agents.api._mcp import McpServer
from flink_agents.api._model import OpenAIModel
from flink_agents.api._tools import FunctionTool, ToolContext, ToolInputError, render_result, tool

__all__ = [
    "AGENT_NAME",
    "Agent",
    "FunctionTool",
    "Limits",
    "McpServer",
    "Memory",
    "OpenAIModel",
    "ToolContext",
    "ToolInputError",
    "agent_from_dict",
    "load_agent",
    "model_from_schema",
    "render_result",
    "tool",
]
