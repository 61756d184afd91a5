"""The agent spec: a declarative, validated description of one agent."""

from __future__ import annotations

import re
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
#: The tool an agent with ``human_input`` offers its model to ask its requester a question.
ASK_TOOL = "ask_for_input"

#: In ``Agent.callers``: requests from any caller are accepted.
ANY_CALLER = "*"


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
    #: Calls running at once for this agent on one Flink worker (a model provider's
    #: concurrency limit, say). As many again may wait there to start the moment one ends;
    #: when both are full, the agent operator waits for a call to finish before it takes
    #: the next record: a backlog back-pressures the Kafka sources instead of piling up calls.
    max_in_flight: int = Field(default=256, ge=1)
    #: How long a delegation to a peer agent may take before the model is told it timed out.
    peer_timeout: Duration = timedelta(seconds=120)
    #: Longest chain of delegations a task may start (A asks B asks C is a chain of 2).
    max_delegation_depth: int = Field(default=4, ge=1, le=32)
    #: Inputs that may wait per key behind its running task; one more goes to the
    #: dead-letter topic. At a few seconds per task, 1,000 is a backlog of an hour or more
    #: for one key, which is a runaway producer rather than a conversation.
    max_queued_inputs: int = Field(default=1000, ge=1)
    #: Longest tool result handed to the model, in UTF-8 bytes; a longer one is cut, with a
    #: note saying so. It also keeps result records well under Kafka's 1 MB message limit.
    max_result_bytes: int = Field(default=100_000, ge=1_000, le=900_000)
    #: How long a task that asked its requester for input (``Agent.human_input``) waits for
    #: the answer; then the model is told nobody answered and goes on. The task holds its key
    #: meanwhile (the key's next inputs wait behind it), so this bounds that stall: long
    #: enough for a person to read and answer a question, short enough that a forgotten one
    #: frees its conversation within the hour.
    input_timeout: Duration = timedelta(minutes=30)

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


class Reflection(BaseModel):
    """Drafts reviewed by a critic: the agent writes a draft, ``critic`` judges it, and the
    agent revises it with the critic's feedback, until the critic accepts or
    ``max_iterations`` drafts were made (the last one is then the answer).

    The agent drafts as it answers without a critic: its model may call the agent's tools
    and peers in turns, and a draft is the model's final answer of those turns, validated
    against ``Agent.output`` when it has one (one repair round per draft, then the task
    fails). The critic reads the request and the draft (as JSON text with an output schema)
    and answers ``{"accept": true|false, "feedback": "..."}``; it has no tools. It runs on
    ``critic_model``, or on the agent's model when that is None.

    Every model call counts against ``Limits.max_steps``: tool turns, repair turns and
    verdicts alike. An iteration takes at least two (the draft and the verdict), and three
    when the agent has tools, peers or ``human_input`` (a tool turn, the draft, the
    verdict): ``max_steps`` must allow that many per iteration, and more for a drafter that
    takes several tool turns (a task that runs out fails, as any task does).

    >>> Reflection(critic="Accept only answers that cite a source.").max_iterations
    3
    >>> judge = OpenAIModel(model="gpt-4o", base_url="http://127.0.0.1:9/v1")
    >>> Reflection(critic="Judge.", critic_model=judge).critic_model.label
    'gpt-4o@http://127.0.0.1:9/v1'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The critic's instructions (its system prompt).
    critic: str = Field(min_length=1)
    max_iterations: int = Field(default=3, ge=1, le=50)
    #: The model the critic runs on; None is the agent's model.
    critic_model: OpenAIModel | None = None


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
    #: Agents this agent may delegate to: names of agents of this framework (asked over
    #: Kafka) or URLs of remote A2A agents (asked over HTTP). The model sees each as a tool.
    peers: tuple[str, ...] = ()
    #: Names of the agents (callers) whose requests this agent accepts, ``"*"`` for any. An
    #: agent with callers gets an A2A inbox topic; an agent without accepts no requests.
    callers: tuple[str, ...] = ()
    memory: Memory = Field(default_factory=Memory)
    #: A pydantic model the final answer must validate against; None means free text.
    output: type[BaseModel] | None = None
    limits: Limits = Field(default_factory=Limits)
    #: Drafts reviewed by a critic before the answer is given; None answers at once.
    reflection: Reflection | None = None
    #: Offer the model the tool ``ask_for_input``: a task started by an A2A request may ask
    #: its requester a question, wait in ``TASK_STATE_INPUT_REQUIRED`` (at most
    #: ``limits.input_timeout``) and go on with the answer as the tool's result.
    human_input: bool = False
    #: Show every task another agent asks this one for in the A2A gateway
    #: (``flink-agents a2a serve``), beside the tasks the gateway's own clients start: a
    #: person follows them there (``GetTask``, ``ListTasks``, ``SubscribeToTask``) and
    #: answers their questions (``human_input``), which then go to the gateway, not to the
    #: requesting agent, whose delegation waits for the final answer. The gateway must be
    #: one of ``callers`` (its caller name is the setting ``gateway.caller``).
    show_in_gateway: bool = False

    @field_validator("tools", mode="before")
    @classmethod
    def _tools_are_tools(cls, value: Any) -> Any:
        for item in value or ():
            if not isinstance(item, FunctionTool | McpServer | dict):
                hint = " (decorate it with @tool)" if callable(item) else ""
                raise ValueError(f"{item!r} is not a tool{hint}")
        return value

    @model_validator(mode="after")
    def _unique_function_tools(self) -> Agent:
        names = [t.name for t in self.tools if isinstance(t, FunctionTool)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"tool names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @field_validator("peers")
    @classmethod
    def _peers_are_agent_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for peer in value:
            if peer.startswith(("http://", "https://")):
                continue  # a remote A2A agent, asked over HTTP
            if not re.fullmatch(AGENT_NAME, peer):
                raise ValueError(
                    f"peer {peer!r} is neither an agent name ({AGENT_NAME}) nor an A2A URL "
                    "(http:// or https://)"
                )
        if len(set(value)) != len(value):
            raise ValueError("peers must be unique")
        return value

    @field_validator("callers")
    @classmethod
    def _callers_are_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for caller in value:
            if caller != ANY_CALLER and not re.fullmatch(AGENT_NAME, caller):
                raise ValueError(
                    f"caller {caller!r} is neither an agent name nor {ANY_CALLER!r} (any caller)"
                )
        return value

    @model_validator(mode="after")
    def _peers_are_not_tools_or_self(self) -> Agent:
        if self.name in self.peers:
            raise ValueError(f"agent {self.name} cannot be its own peer")
        clashes = sorted(set(self.peers) & {t.name for t in self.function_tools})
        if clashes:
            raise ValueError(f"peers {', '.join(clashes)} have the names of tools; rename one")
        return self

    @model_validator(mode="after")
    def _human_input_has_an_inbox(self) -> Agent:
        if not self.human_input:
            return self
        if not self.callers:
            raise ValueError(
                "human_input needs callers: questions are answered by the requester of a task, "
                "through the agent's inbox, which only an agent with callers has"
            )
        if ASK_TOOL in {t.name for t in self.function_tools}:
            raise ValueError(f"with human_input, {ASK_TOOL!r} is the built-in tool; rename yours")
        return self

    @model_validator(mode="after")
    def _shown_agent_has_an_inbox(self) -> Agent:
        if self.show_in_gateway and not self.callers:
            raise ValueError(
                "show_in_gateway needs callers: the gateway shows the tasks other agents ask "
                "for, and answers reach a task through the agent's inbox, which only an agent "
                "with callers has"
            )
        return self

    @model_validator(mode="after")
    def _reflection_fits(self) -> Agent:
        if self.reflection is None:
            return self
        uses_tools = bool(self.tools or self.peers or self.human_input)
        per_draft = 3 if uses_tools else 2
        needed = per_draft * self.reflection.max_iterations
        if self.limits.max_steps < needed:
            calls = "a tool turn, the draft, the verdict" if uses_tools else "draft, verdict"
            raise ValueError(
                f"limits.max_steps ({self.limits.max_steps}) must allow {per_draft} model calls "
                f"per iteration ({calls}): at least {needed} for max_iterations "
                f"{self.reflection.max_iterations}"
            )
        return self

    def accepts(self, caller: str) -> bool:
        """Whether a request from ``caller`` is accepted.

        >>> spec = dict(instructions="Review.", model=OpenAIModel(model="m"))
        >>> Agent(name="review", callers=["triage"], **spec).accepts("triage")
        True
        >>> Agent(name="review", callers=["triage"], **spec).accepts("other")
        False
        >>> Agent(name="review", callers=["*"], **spec).accepts("other")
        True
        """
        return ANY_CALLER in self.callers or caller in self.callers

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
