"""The agent spec: a declarative, validated description of one agent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from flink_agents.api._duration import Duration
from flink_agents.api._mcp import McpServer
from flink_agents.api._model import OpenAIModel
from flink_agents.api._tools import FunctionTool
from flink_agents.errors import explain

AGENT_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"


class Memory(BaseModel):
    """What an agent keeps per conversation key, in Flink state.

    ``window`` is the number of past messages (inputs and final answers) that the next task's
    prompt sees; ``ttl`` drops a key's memory after that long without a task.

    >>> Memory(window=10, ttl="7d").ttl.days
    7
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(default=20, ge=0, le=1000)
    ttl: Duration | None = None


class Limits(BaseModel):
    """Bounds of one task and of one agent's calls.

    >>> Limits(max_steps=4, call_timeout="10s").call_timeout.total_seconds()
    10.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Model calls per task (tool rounds and the repair round included).
    max_steps: int = Field(default=8, ge=1, le=100)
    #: Time for one model or tool call attempt; a call's time counts from when it starts
    #: running, not from when it was issued.
    call_timeout: Duration = timedelta(seconds=30)
    #: Further attempts of a call after a retryable failure: for a model, 429, 5xx, a
    #: timeout or an unreadable answer; for a tool (Python or MCP alike), a timeout or a
    #: lost connection, unless the tool is marked not safe to retry (``@tool(retry=False)``,
    #: ``McpServer(no_retry=[...])``), whose timeout goes to the model at once. An MCP call
    #: that never reached its server is always tried again. A tool's own error is never
    #: retried: the model reads it.
    max_retries: int = Field(default=3, ge=0, le=20)
    #: First backoff; it doubles per attempt up to ``backoff_max``.
    backoff: Duration = timedelta(milliseconds=500)
    backoff_max: Duration = timedelta(seconds=10)
    #: Calls in flight for this agent on one Flink worker. When that many are queued or
    #: running, the agent operator waits for one to finish before it takes the next record:
    #: a backlog back-pressures the Kafka sources instead of piling up calls.
    max_in_flight: int = Field(default=256, ge=1)
    #: Inputs that may wait per key behind its running task; one more goes to the
    #: dead-letter topic. At a few seconds per task, 1,000 is a backlog of an hour or more
    #: for one key, which is a runaway producer rather than a conversation.
    max_queued_inputs: int = Field(default=1000, ge=1)
    #: Longest tool result handed to the model, in UTF-8 bytes; a longer one is cut, with a
    #: note saying so. It also keeps result records well under Kafka's 1 MB message limit.
    max_result_bytes: int = Field(default=100_000, ge=1_000, le=900_000)

    @field_validator("call_timeout")
    @classmethod
    def _positive_timeout(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("call_timeout must be longer than zero (for example '30s')")
        return value

    def backoff_after(self, attempt: int) -> timedelta:
        """The wait after failed attempt ``attempt`` (from 1): ``backoff`` doubling per
        attempt, at most ``backoff_max``.

        >>> [Limits().backoff_after(n).total_seconds() for n in (1, 2, 6)]
        [0.5, 1.0, 10.0]
        """
        wait: timedelta = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        return wait

    def call_deadline(self) -> timedelta:
        """How long one call may take with every retry and backoff, plus slack."""
        backoff = sum(
            self.backoff_after(attempt).total_seconds()
            for attempt in range(1, self.max_retries + 1)
        )
        total = self.call_timeout.total_seconds() * (self.max_retries + 1) + backoff
        return timedelta(seconds=total + 5)


Tool = FunctionTool | McpServer


class Agent(BaseModel):
    """One agent: instructions, a model, tools, peers, memory, output schema and limits.

    >>> from pydantic import BaseModel
    >>> class Decision(BaseModel):
    ...     decision: str
    ...     reason: str
    >>> triage = Agent(
    ...     name="fraud-triage",
    ...     instructions="Decide APPROVE, REVIEW or BLOCK.",
    ...     model=OpenAIModel(model="gpt-4o-mini"),
    ...     output=Decision,
    ... )
    >>> triage.memory.window, triage.limits.max_steps, triage.output_schema()["required"]
    (20, 8, ['decision', 'reason'])
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str = Field(pattern=AGENT_NAME)
    description: str = ""
    instructions: str = Field(min_length=1)
    model: OpenAIModel
    tools: tuple[Tool, ...] = ()
    #: Names of agents (or A2A URLs) this agent may delegate to. Not available yet: an agent
    #: with peers is refused (see ``_no_peers_yet``) rather than run without them.
    peers: tuple[str, ...] = ()
    memory: Memory = Field(default_factory=Memory)
    #: A pydantic model the final answer must validate against; None means free text.
    output: type[BaseModel] | None = None
    limits: Limits = Field(default_factory=Limits)

    @field_validator("tools", mode="before")
    @classmethod
    def _tools_are_tools(cls, value: Any) -> Any:
        for item in value or ():
            if not isinstance(item, FunctionTool | McpServer | dict):
                hint = " (decorate it with @tool)" if callable(item) else ""
                raise ValueError(f"{item!r} is not a tool{hint}")
        return value

    @field_validator("peers")
    @classmethod
    def _no_peers_yet(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # The one place that refuses delegation; it goes when agent-to-agent calls exist.
        if value:
            raise ValueError(
                f"agent-to-agent delegation is not available yet, so peers {list(value)} "
                "would never be called; leave peers out, or offer the other agent's work to "
                "this one as a tool (@tool or an MCP server)"
            )
        return value

    @model_validator(mode="after")
    def _unique_function_tools(self) -> Agent:
        names = [t.name for t in self.tools if isinstance(t, FunctionTool)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"tool names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def function_tools(self) -> tuple[FunctionTool, ...]:
        return tuple(t for t in self.tools if isinstance(t, FunctionTool))

    @property
    def mcp_servers(self) -> tuple[McpServer, ...]:
        return tuple(t for t in self.tools if isinstance(t, McpServer))

    def output_schema(self) -> dict[str, Any] | None:
        return self.output.model_json_schema() if self.output else None

    def validate_output(self, text: str) -> dict[str, Any]:
        """Parse the final answer; raises ``ValueError`` saying what does not fit."""
        if self.output is None:
            return {"text": text}
        try:
            return self.output.model_validate_json(_strip_fences(text)).model_dump(mode="json")
        except ValidationError as exc:
            raise ValueError(explain(exc)) from None


def _strip_fences(text: str) -> str:
    """Models often wrap JSON in a Markdown code fence; accept that."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()
