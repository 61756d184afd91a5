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
        # Counters a reader of the REST API can difference: average latency over a window
        # is the change of the sum over the change of the calls (``flink-agents top``).
        self.model_latency_sum = scope.counter("modelLatencyMsSum")
        self.tool_latency_sum = scope.counter("toolLatencyMsSum")
        # Calls queued or running, as a counter moved up and down to the executor's count.
        self.in_flight = scope.counter("inFlightCalls")
        self._in_flight = 0

    def model_response(self, event: ModelResponse) -> None:
        self.model_calls.inc()
        self._retried(event.attempts)
        self.tokens_in.inc(event.usage.prompt_tokens)
        self.tokens_out.inc(event.usage.completion_tokens)
        self.model_latency.update(int(event.latency_ms))
        self.model_latency_sum.inc(int(event.latency_ms))
        if event.error is not None:
            self.errors.inc()

    def tool_result(self, event: ToolResult) -> None:
        self.tool_calls.inc()
        self._retried(event.attempts)
        self.tool_latency.update(int(event.latency_ms))
        self.tool_latency_sum.inc(int(event.latency_ms))
        if event.is_error:
            self.errors.inc()

    def _retried(self, attempts: int) -> None:
        # Only when there were retries: each update of a Flink metric is a call into Java,
        # which gives up the interpreter's lock to the executor's loop.
        if attempts > 1:
            self.retries.inc(attempts - 1)

    def calls_in_flight(self, count: int) -> None:
        """The executor's calls for this agent now (queued or running)."""
        if count != self._in_flight:
            self.in_flight.inc(count - self._in_flight)
            self._in_flight = count

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
