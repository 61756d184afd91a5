"""The pure core: the agent state machine and its state, with no Flink and no I/O.

The Flink operator in ``flink_agents.runtime`` is a thin shell around it; tests and
replay drive it directly.
"""

from flink_agents.core._machine import COMPLETED, AgentMachine, Effects, repair_prompt
from flink_agents.core._peers import (
    ASK_TOOL,
    CANCELED,
    FAILED,
    INPUT_REQUIRED,
    INTERRUPTED,
    TERMINAL,
    Cancel,
    Delegation,
    GatewayView,
    PeerAnswer,
    Reply,
    ReplyTo,
    is_url,
    peer_tool_name,
)
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
    "ASK_TOOL",
    "CANCELED",
    "COMPLETED",
    "FAILED",
    "INPUT_REQUIRED",
    "INTERRUPTED",
    "TERMINAL",
    "AgentMachine",
    "Call",
    "Cancel",
    "Delegation",
    "Effects",
    "GatewayView",
    "InputRecord",
    "KeyStore",
    "MemoryStore",
    "ModelCall",
    "PeerAnswer",
    "PendingTool",
    "Reply",
    "ReplyTo",
    "TaskState",
    "ToolCall",
    "is_url",
    "peer_tool_name",
    "repair_prompt",
]
