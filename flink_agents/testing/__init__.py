"""Test support for flink-agents: the deterministic OpenAI-compatible model simulator.

>>> reply = Reply.tool_calls([ToolCall("risk_score", {"merchant_id": "m1"})])
>>> reply.to_dict(number=3)["choices"][0]["message"]["tool_calls"][0]["id"]
'call_3_0'
"""

from flink_agents.testing._model_script import (
    ChatRequest,
    Fault,
    Reply,
    Script,
    ToolCall,
    ToolResult,
    echo,
)
from flink_agents.testing._model_server import ModelServer, RecordedRequest
from flink_agents.testing._procs import first_line, stop_process

__all__ = [
    "ChatRequest",
    "Fault",
    "ModelServer",
    "RecordedRequest",
    "Reply",
    "Script",
    "ToolCall",
    "ToolResult",
    "echo",
    "first_line",
    "stop_process",
]
