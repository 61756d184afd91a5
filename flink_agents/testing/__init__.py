"""Test support for flink-agents: run an agent in-process, and the model simulator.

``run_agent`` runs an agent's tasks on the job's own state machine and tools, without Kafka
or Flink; ``default_model`` is the script it uses when none is given. ``ModelServer`` is the
deterministic OpenAI-compatible model simulator that plays scripts over real HTTP;
``TopicClient`` and ``JobProcess`` send and read Kafka records and run a job file as its own
process (a MiniCluster).

``run_agent`` loads the model and MCP clients when first named, so a job file that takes
only the simulator's scripts from here does not load them where it is built.

>>> reply = Reply.tool_calls([ToolCall("risk_score", {"merchant_id": "m1"})])
>>> reply.to_dict(number=3)["choices"][0]["message"]["tool_calls"][0]["id"]
'call_3_0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flink_agents._lazy import lazy_names
from flink_agents.testing._default_model import default_model, sample_value
from flink_agents.testing._jobs import JobProcess
from flink_agents.testing._kafka import Record, TopicClient
from flink_agents.testing._model_script import (
    ChatRequest,
    Fault,
    Reply,
    Script,
    ToolCall,
    ToolResult,
    echo,
)
from flink_agents.testing._model_server import ModelServer, RecordedRequest, fingerprint
from flink_agents.testing._procs import first_line, stop_process
from flink_agents.testing._task_view import TaskView

if TYPE_CHECKING:
    from flink_agents.testing._run_agent import AgentRun, run_agent

_LAZY_NAMES = {
    "AgentRun": "flink_agents.testing._run_agent",
    "run_agent": "flink_agents.testing._run_agent",
}

__getattr__ = lazy_names(__name__, _LAZY_NAMES)


__all__ = [
    "AgentRun",
    "ChatRequest",
    "Fault",
    "JobProcess",
    "ModelServer",
    "Record",
    "RecordedRequest",
    "Reply",
    "Script",
    "TaskView",
    "ToolCall",
    "ToolResult",
    "TopicClient",
    "default_model",
    "echo",
    "fingerprint",
    "first_line",
    "run_agent",
    "sample_value",
    "stop_process",
]
