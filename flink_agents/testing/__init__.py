"""Test support for flink-agents: run an agent in-process, and the model simulator.

``run_agent`` runs an agent's tasks on the job's own state machine and tools, without Kafka
or Flink; ``default_model`` is the script it uses when none is given. ``ModelServer`` is the
deterministic OpenAI-compatible model simulator that plays scripts over real HTTP;
``TopicClient`` and ``JobProcess`` send and read Kafka records and run a job file as its own
process (a MiniCluster).

Each name is loaded when first used: ``run_agent`` loads the model and MCP clients, the
Kafka helpers the Kafka client, and a job file (or an agent's module, imported again in each
call process) that takes only the simulator's scripts from here loads only those.

>>> from flink_agents.testing import Reply, ToolCall
>>> reply = Reply.tool_calls([ToolCall("risk_score", {"merchant_id": "m1"})])
>>> reply.to_dict(number=3)["choices"][0]["message"]["tool_calls"][0]["id"]
'call_3_0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flink_agents._lazy import lazy_names

if TYPE_CHECKING:
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
    from flink_agents.testing._run_agent import AgentRun, run_agent
    from flink_agents.testing._task_view import TaskView

_LAZY_NAMES = {
    "AgentRun": "flink_agents.testing._run_agent",
    "ChatRequest": "flink_agents.testing._model_script",
    "Fault": "flink_agents.testing._model_script",
    "JobProcess": "flink_agents.testing._jobs",
    "ModelServer": "flink_agents.testing._model_server",
    "Record": "flink_agents.testing._kafka",
    "RecordedRequest": "flink_agents.testing._model_server",
    "Reply": "flink_agents.testing._model_script",
    "Script": "flink_agents.testing._model_script",
    "TaskView": "flink_agents.testing._task_view",
    "ToolCall": "flink_agents.testing._model_script",
    "ToolResult": "flink_agents.testing._model_script",
    "TopicClient": "flink_agents.testing._kafka",
    "default_model": "flink_agents.testing._default_model",
    "echo": "flink_agents.testing._model_script",
    "fingerprint": "flink_agents.testing._model_server",
    "first_line": "flink_agents.testing._procs",
    "run_agent": "flink_agents.testing._run_agent",
    "sample_value": "flink_agents.testing._default_model",
    "stop_process": "flink_agents.testing._procs",
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
