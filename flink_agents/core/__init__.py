"""The pure core: the agent state machine and its state, with no Flink and no I/O.

The Flink operator in ``flink_agents.runtime`` is a thin shell around it; tests and
replay drive it directly.
"""

from flink_agents.core._machine import AgentMachine, Effects, repair_prompt
from flink_agents.core._state import (
    Call,
    InputRecord,
    KeyStore,
    MemoryStore,
    ModelCall,
    PendingTool,
    TaskState,
    ToolCall,
)

__all__ = [
    "AgentMachine",
    "Call",
    "Effects",
    "InputRecord",
    "KeyStore",
    "MemoryStore",
    "ModelCall",
    "PendingTool",
    "TaskState",
    "ToolCall",
    "repair_prompt",
]
