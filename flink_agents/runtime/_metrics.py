"""Per-agent metrics in Flink's metric system (visible in the REST API and the web UI).

Metrics are updated on the task thread when results are read back, never from the
executor's thread: Flink's metric objects belong to the task.
"""

from __future__ import annotations

from typing import Any

from flink_agents.api.events import ModelResponse, ToolResult
from flink_agents.core import COMPLETED


class AgentMetrics:
    """Counters and latency distributions under the metric group ``agent.<name>``."""

    def __init__(self, group: Any, agent: str) -> None:
        scope = group.add_group("agent", agent)
        self.model_calls = scope.counter("modelCalls")
        self.tool_calls = scope.counter("toolCalls")
        self.tokens_in = scope.counter("tokensIn")
        self.tokens_out = scope.counter("tokensOut")
        self.errors = scope.counter("errors")
        self.retries = scope.counter("retries")
        self.reissues = scope.counter("reissuedCalls")
        self.duplicates = scope.counter("duplicateResults")
        self.completed = scope.counter("tasksCompleted")
        self.failed = scope.counter("tasksFailed")
        self.dead_letters = scope.counter("deadLetters")
        self.model_latency = scope.distribution("modelLatencyMs")
        self.tool_latency = scope.distribution("toolLatencyMs")
        self.queued = scope.distribution("queueDepth")

    def model_response(self, event: ModelResponse) -> None:
        self.model_calls.inc()
        self.retries.inc(max(0, event.attempts - 1))
        self.tokens_in.inc(event.usage.prompt_tokens)
        self.tokens_out.inc(event.usage.completion_tokens)
        self.model_latency.update(int(event.latency_ms))
        if event.error is not None:
            self.errors.inc()

    def tool_result(self, event: ToolResult) -> None:
        self.tool_calls.inc()
        self.retries.inc(max(0, event.attempts - 1))
        self.tool_latency.update(int(event.latency_ms))
        if event.is_error:
            self.errors.inc()

    def task_ended(self, state: str) -> None:
        (self.completed if state == COMPLETED else self.failed).inc()

    def dead_letter(self) -> None:
        self.dead_letters.inc()

    def ignored(self, count: int) -> None:
        if count:
            self.duplicates.inc(count)

    def queue_depth(self, waiting: int) -> None:
        """Inputs waiting in a key's queue, sampled each time one joins it."""
        self.queued.update(waiting)

    def reissued(self, count: int) -> None:
        if count:
            self.reissues.inc(count)
