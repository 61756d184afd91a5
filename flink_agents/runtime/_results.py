"""A call's result as the task reads it: text within a size the model and Kafka can take,
and the error result of a call that failed. The call executor and ``run_agent`` share these.
"""

from __future__ import annotations

import time
from typing import Any

from flink_agents.api.events import CallError, ModelResponse, ToolResult
from flink_agents.core import Call, ModelCall
from flink_agents.errors import FlinkAgentsError, RetryableError


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-8 bytes, with a note the model can read when cut.

    >>> cut("abc", 1000)
    'abc'
    >>> cut("x" * 5000, 1000).splitlines()[-1]
    '[cut: the result had 5,000 bytes; the first 800 are shown above]'
    """
    data = text.encode()
    if len(data) <= limit:
        return text
    kept = data[: max(0, limit - 200)].decode("utf-8", "ignore")
    size = len(kept.encode())
    return f"{kept}\n[cut: the result had {len(data):,} bytes; the first {size:,} are shown above]"


def about(call: Call) -> dict[str, Any]:
    """The fields a call's result shares with the call."""
    return {"agent": call.agent, "key": call.key, "task_id": call.task_id, "step": call.step}


def failure(call: Call, exc: BaseException) -> ModelResponse | ToolResult:
    """The error result of a call: what the task (and the model, for a tool) reads."""
    reason = str(exc) or type(exc).__name__
    if isinstance(call, ModelCall):
        error = CallError(
            type=type(exc).__name__,
            message=reason,
            retryable=isinstance(exc, RetryableError),
        )
        return ModelResponse(**about(call), error=error, at=time.time())
    kind = "" if isinstance(exc, FlinkAgentsError) else f"{type(exc).__name__}: "
    return ToolResult(
        **about(call),
        call=call.call,
        call_id=call.call_id,
        tool=call.tool,
        content=f"tool {call.tool} failed: {kind}{reason}",
        is_error=True,
        at=time.time(),
    )
