"""Delegation between agents, as the state machine sees it: plain data, no Kafka, no A2A SDK.

A task asks a peer (``Delegation``), the peer's answer comes back (``PeerAnswer``) and
becomes the result of the tool call the model made. A task started by a request of another
agent remembers whom to answer (``ReplyTo``) and answers once it ends (``Reply``). The
runtime turns these into A2A 1.0 records on Kafka (``flink_agents.a2a``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flink_agents.api._agent import ASK_TOOL as ASK_TOOL

#: A2A task states this project writes or reads (``TASK_STATE_*`` of A2A 1.0).
SUBMITTED = "TASK_STATE_SUBMITTED"
WORKING = "TASK_STATE_WORKING"
COMPLETED = "TASK_STATE_COMPLETED"
FAILED = "TASK_STATE_FAILED"
CANCELED = "TASK_STATE_CANCELED"
REJECTED = "TASK_STATE_REJECTED"
INPUT_REQUIRED = "TASK_STATE_INPUT_REQUIRED"
AUTH_REQUIRED = "TASK_STATE_AUTH_REQUIRED"

#: States after which a task does nothing more.
TERMINAL = frozenset({COMPLETED, FAILED, CANCELED, REJECTED})
#: States in which a task waits for its caller (it ends the caller's wait too).
INTERRUPTED = frozenset({INPUT_REQUIRED, AUTH_REQUIRED})


class Delegation(BaseModel):
    """A request to a peer: one A2A ``SendMessage`` to the peer's inbox."""

    model_config = ConfigDict(frozen=True)

    caller: str
    peer: str
    #: The A2A ``contextId``, and the Kafka key: the caller's conversation, ``<agent>/<key>``.
    context_id: str
    #: The A2A ``messageId``; also the correlation id the reply must carry.
    message_id: str
    text: str
    #: Delegations on the way to this one, this one included.
    depth: int = 1
    #: The agents of the chain so far (the caller last): a peer already in it is a cycle.
    chain: tuple[str, ...] = ()
    #: The caller's task and step, for the trace.
    task_id: str = ""
    step: int = 0


class ReplyTo(BaseModel):
    """Where and how a task started by another agent's request answers."""

    model_config = ConfigDict(frozen=True, extra="allow")

    reply_to: str
    correlation_id: str
    caller: str
    message_id: str
    depth: int = 1
    chain: tuple[str, ...] = ()
    #: The task the message continues (A2A ``taskId``): an answer to its question.
    task_id: str = ""
    #: Whether the caller follows the task (a gateway): WORKING updates are sent as it works.
    updates: bool = False


class GatewayView(BaseModel):
    """Where an agent shown in the gateway sends copies of its tasks' answers, and the
    caller name the gateway asks with (its answers to questions are taken from it)."""

    model_config = ConfigDict(frozen=True)

    caller: str
    topic: str


class Cancel(BaseModel):
    """A request to cancel a task this agent runs for another agent (A2A ``CancelTask``)."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    caller: str


class Reply(BaseModel):
    """A peer's answer to a request: its task's (final) state, and the output or the error."""

    model_config = ConfigDict(frozen=True)

    agent: str
    reply_to: str
    context_id: str
    correlation_id: str
    task_id: str
    state: str
    output: dict[str, Any] | None = None
    #: The status message: a failure's reason, a question (``INPUT_REQUIRED``) or progress.
    error: str | None = None
    #: The A2A history the answer closes: the request's message id.
    message_id: str = ""
    #: On a copy for the gateway (``Agent.show_in_gateway``): who asked for the task, and
    #: the request as the model read it, so the gateway can show a task it did not start.
    requester: str = ""
    request: str = ""

    @property
    def final(self) -> bool:
        """Whether this answer ends the caller's wait (else it is a progress update)."""
        return self.state in TERMINAL or self.state in INTERRUPTED


class PeerAnswer(BaseModel):
    """A reply as it arrives for the caller: which call it answers, and the peer's state."""

    model_config = ConfigDict(frozen=True)

    correlation_id: str
    state: str
    text: str = ""
    peer_task_id: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def final(self) -> bool:
        """Whether the answer ends the caller's wait (a terminal or interrupted state)."""
        return self.state in TERMINAL or self.state in INTERRUPTED


def answer_text(peer: str, answer: PeerAnswer) -> tuple[str, bool]:
    """What the model reads as the peer tool's result, and whether it is an error.

    >>> answer_text("review", PeerAnswer(correlation_id="c", state=COMPLETED, text="ok"))
    ('ok', False)
    >>> answer_text("review", PeerAnswer(correlation_id="c", state=REJECTED, text="no"))
    ('agent review rejected the request: no', True)
    """
    if answer.state == COMPLETED:
        return answer.text, False
    verb: dict[str, str] = {
        FAILED: "failed",
        CANCELED: "cancelled the task",
        REJECTED: "rejected the request",
        INPUT_REQUIRED: "needs input this agent cannot give",
        AUTH_REQUIRED: "needs authentication this agent cannot give",
    }
    what = verb.get(answer.state, f"ended in state {answer.state}")
    return f"agent {peer} {what}: {answer.text or 'no reason given'}", True


def is_url(peer: str) -> bool:
    """Whether a peer is a remote agent (an A2A URL) rather than an agent name."""
    return peer.startswith(("http://", "https://"))


def peer_tool_name(peer: str) -> str:
    """The tool name the model sees for a peer: its name, or one made from its URL.

    >>> peer_tool_name("compliance-review"), peer_tool_name("http://127.0.0.1:8123/a2a/")
    ('compliance-review', 'a2a-127-0-0-1-8123-a2a')
    """
    if not is_url(peer):
        return peer
    rest = peer.split("://", 1)[1]
    return "a2a-" + re.sub(r"[^a-z0-9]+", "-", rest.lower()).strip("-")[:59]
