"""The agent state machine: plain Python on plain data, no Flink and no I/O.

For one key it decides what an input, a model response, a tool result or a timer leads to:
which calls to hand to the executor, which events to log, what to output. The Flink
operator only loads state, calls these methods and routes the ``Effects``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flink_agents.api import Agent
from flink_agents.api.events import (
    AssistantMessage,
    DeadLetter,
    Event,
    ModelRequest,
    ModelResponse,
    PeerAnswered,
    PeerRequested,
    RequestRejected,
    TaskAccepted,
    TaskCanceled,
    TaskCompleted,
    TaskFailed,
    TaskInputRequired,
    TaskResumed,
    ToolRequest,
    ToolResult,
    event_id,
    routing_key,
    task_id_for,
    task_id_for_request,
)
from flink_agents.core._peers import (
    ASK_TOOL,
    CANCELED,
    INPUT_REQUIRED,
    REJECTED,
    WORKING,
    Cancel,
    Delegation,
    GatewayView,
    PeerAnswer,
    Reply,
    answer_text,
    peer_tool_name,
)
from flink_agents.core._reflection import (
    critic_system,
    critique_request,
    revision_request,
    verdict,
)
from flink_agents.core._state import (
    Call,
    InputRecord,
    KeyStore,
    ModelCall,
    PendingTool,
    TaskState,
    ToolCall,
)

#: How often a step's calls are checked for having been lost (a worker that died).
CHECK_INTERVAL_S = 5.0
#: How often lost calls are issued again before the task fails.
MAX_REISSUES = 3

COMPLETED = "TASK_STATE_COMPLETED"
FAILED = "TASK_STATE_FAILED"


@dataclass
class Effects:
    """What one transition asks the operator to do."""

    calls: list[Call] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    outputs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    timers: list[float] = field(default_factory=list)
    cancelled_timers: list[float] = field(default_factory=list)
    #: Requests to peer agents, and answers to the agents that asked this one.
    delegations: list[Delegation] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    #: Ids of calls whose task ended while they were awaited: stop them.
    cancelled_calls: list[str] = field(default_factory=list)
    ignored: int = 0
    #: Inputs waiting in the key's queue after this transition put one there.
    queued: int | None = None


class AgentMachine:
    """Runs one agent's tasks for one key at a time; inputs that arrive meanwhile wait.

    >>> from flink_agents.api import Agent, OpenAIModel
    >>> from flink_agents.api.events import SourceRef
    >>> from flink_agents.core._state import MemoryStore
    >>> agent = Agent(name="echo", instructions="Repeat.", model=OpenAIModel(model="m"))
    >>> machine, store = AgentMachine(agent), MemoryStore()
    >>> source = SourceRef(topic="in", partition=0, offset=0)
    >>> first = InputRecord(payload={"n": 1}, key="k", source=source)
    >>> fx = machine.on_input(store, first, now=0.0)
    >>> [type(c).__name__ for c in fx.calls], [e.kind for e in fx.events]
    (['ModelCall'], ['task.accepted', 'model.request'])
    """

    def __init__(
        self, agent: Agent, tool_names: tuple[str, ...] = (), gateway: GatewayView | None = None
    ) -> None:
        self.agent = agent
        #: Where copies of the answers of tasks other agents ask for go (show_in_gateway).
        self.gateway = gateway if agent.show_in_gateway else None
        self.limits = agent.limits
        #: Peers by the name of their tool (a remote peer's is made from its URL).
        self.peers = {peer_tool_name(p): p for p in agent.peers}
        self.tool_names = tool_names or (*(t.name for t in agent.function_tools), *self.peers)
        self.system = render_system(agent)
        self.system_digest = hashlib.sha256(self.system.encode()).hexdigest()[:16]
        #: Each model request's event names the model; the label parses a URL, so once.
        self.model_label = agent.model.label
        self.reflection = agent.reflection
        self.critic = critic_system(agent.reflection) if agent.reflection else ""
        self.critic_digest = hashlib.sha256(self.critic.encode()).hexdigest()[:16]
        critic_model = agent.reflection.critic_model if agent.reflection else None
        self.critic_label = (critic_model or agent.model).label

    # -- inputs ------------------------------------------------------------------------

    def on_input(self, store: KeyStore, record: InputRecord, now: float) -> Effects:
        fx = Effects()
        if record.reply is not None and record.reply.task_id:
            self._resume(store, record, now, fx)
            return fx
        if record.reply is not None and self._refused(record, now, fx):
            return fx
        if not store.has_task():
            self._start(store, record, now, fx)
            return fx
        waiting = store.queued()
        if waiting >= self.limits.max_queued_inputs:
            reason = (
                f"key {record.key!r} of agent {self.agent.name} already has {waiting} inputs "
                "waiting behind its running task (Limits.max_queued_inputs); this one was "
                "not queued"
            )
            fx.dead_letters.append(
                DeadLetter(
                    kind="input.rejected",
                    reason=reason,
                    agent=self.agent.name,
                    key=record.key,
                    source=record.source,
                    payload=record.payload,
                    at=now,
                )
            )
            return fx
        store.push(record)
        fx.queued = waiting + 1
        return fx

    def on_error(self, store: KeyStore, reason: str, now: float) -> Effects:
        """A record of the key's running task could not be handled: the task fails."""
        fx = Effects()
        task = store.task()
        if task is not None:
            self._fail(store, task, reason, now, fx)
        return fx

    def on_cancel(self, store: KeyStore, key: str, cancel: Cancel, now: float) -> Effects:
        """A2A ``CancelTask``: the key's running task ends CANCELED and its calls are stopped.

        Only the caller that asked for the task may cancel it. A cancel for a task that is
        not running on this key (it ended, or waits behind another) is refused and logged.
        """
        fx = Effects()
        task = store.task()
        reply = task.input.reply if task is not None else None
        if task is None or task.id != cancel.task_id or reply is None:
            reason = self._cancel_queued(store, key, cancel, now, fx)
            if reason is None:
                return fx
        elif reply.caller != cancel.caller:
            reason = f"only {reply.caller}, which asked for task {task.id}, may cancel it"
        else:
            reason = f"cancelled by {cancel.caller}"
            self._disarm(task, fx)
            fx.cancelled_calls += [c.id for c in self._awaited_calls(task)]
            view = self._task_view(task, CANCELED) | {"error": reason}
            fx.outputs.append((task.input.key, {**task.input.carry, "task": view}))
            self._reply(task, CANCELED, fx, error=reason)
            fx.events.append(
                TaskCanceled(**self._about(task), reason=reason, usage=task.usage, at=now)
            )
            self._next(store, now, fx)
            return fx
        fx.events.append(
            RequestRejected(
                agent=self.agent.name,
                key=key,
                task_id=cancel.task_id,
                caller=cancel.caller,
                message_id=f"{cancel.task_id}/cancel",
                reason=reason,
                at=now,
            )
        )
        return fx

    def _cancel_queued(
        self, store: KeyStore, key: str, cancel: Cancel, now: float, fx: Effects
    ) -> str | None:
        """Cancel a task that waits behind the running one; None when it was, else why not."""
        asked_by: list[str] = []

        def match(record: InputRecord) -> bool:
            if record.reply is None or self._request_task(record) != cancel.task_id:
                return False
            asked_by.append(record.reply.caller)
            return record.reply.caller == cancel.caller

        record = store.drop(match)
        if record is None and asked_by:
            return f"only {asked_by[0]}, which asked for task {cancel.task_id}, may cancel it"
        if record is None:
            return f"task {cancel.task_id} is neither running nor waiting on this key"
        reason = f"cancelled by {cancel.caller} before it started"
        task = TaskState(id=cancel.task_id, input=record, started_at=now)
        view = self._task_view(task, CANCELED) | {"error": reason}
        fx.outputs.append((key, {**record.carry, "task": view}))
        self._reply(task, CANCELED, fx, error=reason)
        fx.events.append(TaskCanceled(**self._about(task), reason=reason, at=now))
        fx.queued = store.queued()
        return None

    def _request_task(self, record: InputRecord) -> str:
        """The id of the task a request (an input with a ``reply``) runs as."""
        assert record.reply is not None
        return task_id_for_request(self.agent.name, record.reply.message_id)

    # -- human input -------------------------------------------------------------------

    def _ask(self, task: TaskState, pending: PendingTool, now: float, fx: Effects) -> None:
        """The model asks the task's requester a question: the task waits for the answer."""
        reply = task.input.reply
        if reply is None:
            source = task.input.source
            pending.result = (
                f"nobody can answer: this task serves a record of topic {source.topic}, not an "
                "A2A request; decide without the input"
            )
            pending.is_error = True
            return
        pending.question = _question(pending.arguments)
        pending.deadline = now + self.limits.input_timeout.total_seconds()
        fx.events.append(
            TaskInputRequired(
                **self._about(task),
                call=pending.call,
                call_id=pending.call_id,
                question=pending.question,
                at=now,
            )
        )
        if sum(p.question is not None and p.result is None for p in task.tools) == 1:
            self._reply(task, INPUT_REQUIRED, fx, error=pending.question)

    def _resume(self, store: KeyStore, record: InputRecord, now: float, fx: Effects) -> None:
        """A message naming a task: the answer to the question the task waits on."""
        reply = record.reply
        assert reply is not None
        task = store.task()
        asked = _open_question(task) if task is not None and task.id == reply.task_id else None
        requester = task.input.reply if task is not None else None
        if task is None or asked is None or requester is None:
            reason = f"task {reply.task_id} is not waiting for input on this key"
        elif requester.caller != reply.caller and not self._gateway_answers(task, reply.caller):
            reason = f"only {requester.caller}, which asked for task {task.id}, may answer it"
            if self._shown(task):
                reason += " (or the gateway that shows it)"
        else:
            answer = render_input(record.payload)
            asked.result, asked.is_error = answer, False
            fx.events.append(
                TaskResumed(
                    **self._about(task),
                    call=asked.call,
                    call_id=asked.call_id,
                    caller=reply.caller,
                    message_id=reply.message_id,
                    answer=answer,
                    at=now,
                )
            )
            following = _open_question(task)
            if following is not None:
                self._reply(task, INPUT_REQUIRED, fx, error=following.question)
                store.set_task(task)
                return
            self._progress(task, fx, "resumed with the answer")
            self._continue_when_answered(store, task, now, fx)
            return
        fx.events.append(
            RequestRejected(
                agent=self.agent.name,
                key=record.key,
                task_id=reply.task_id,
                caller=reply.caller,
                message_id=reply.message_id,
                reason=reason,
                at=now,
            )
        )

    def _progress(self, task: TaskState, fx: Effects, text: str | None = None) -> None:
        """A WORKING update to a requester that follows the task (only one that asked)."""
        if _follows(task) or self._shown(task):
            self._reply(task, WORKING, fx, error=text, progress=True)

    # -- results -----------------------------------------------------------------------

    def on_model_response(self, store: KeyStore, event: ModelResponse, now: float) -> Effects:
        fx = Effects()
        task = store.task()
        if not _expects(task, event.task_id, event.step, "model"):
            fx.ignored += 1
            return fx
        assert task is not None
        self._disarm(task, fx)
        task.usage = task.usage + event.usage
        if event.error is not None or event.message is None:
            error = event.error
            reason = f"model call failed: {error.type}: {error.message}" if error else "no answer"
            self._fail(store, task, reason, now, fx)
        elif task.critique is not None:
            self._judge(store, task, event.message, now, fx)
        elif event.message.tool_calls:
            self._call_tools(store, task, event, now, fx)
        else:
            self._finish(store, task, event.message.content or "", now, fx)
        return fx

    def on_tool_result(self, store: KeyStore, event: ToolResult, now: float) -> Effects:
        fx = Effects()
        task = store.task()
        pending = _pending_tool(task, event)
        if task is None or pending is None:
            fx.ignored += 1
            return fx
        self._tool_done(store, task, pending, event.content, event.is_error, now, fx)
        return fx

    def on_peer_answer(self, store: KeyStore, answer: PeerAnswer, now: float) -> Effects:
        """A peer's reply: a final one is the result of the delegation it answers (once)."""
        fx = Effects()
        task = store.task()
        pending = _pending_delegation(task, answer.correlation_id)
        if task is None or pending is None or not answer.final:
            fx.ignored += 1
            return fx
        assert pending.peer is not None
        content, is_error = answer_text(pending.peer, answer)
        fx.events.append(
            PeerAnswered(
                **self._about(task),
                call=pending.call,
                call_id=pending.call_id,
                peer=pending.peer,
                state=answer.state,
                content=content,
                is_error=is_error,
                at=now,
            )
        )
        self._tool_done(store, task, pending, content, is_error, now, fx)
        return fx

    def _tool_done(
        self,
        store: KeyStore,
        task: TaskState,
        pending: PendingTool,
        content: str,
        is_error: bool,
        now: float,
        fx: Effects,
    ) -> None:
        pending.result, pending.is_error = content, is_error
        if is_error:
            fx.dead_letters.append(self._dead_letter(task, "tool.failed", content, now))
        self._continue_when_answered(store, task, now, fx)

    def _continue_when_answered(
        self, store: KeyStore, task: TaskState, now: float, fx: Effects
    ) -> None:
        """Ask the model again once every call of the step has its result."""
        if any(p.result is None for p in task.tools):
            store.set_task(task)
            return
        self._disarm(task, fx)
        task.messages += [
            {"role": "tool", "tool_call_id": p.call_id, "content": p.result} for p in task.tools
        ]
        self._ask_model_or_fail(store, task, now, fx)

    # -- timers ------------------------------------------------------------------------

    def on_timer(self, store: KeyStore, now: float, in_flight: Callable[[str], bool]) -> Effects:
        """A step's check: calls that no worker runs any more (lost) are issued again.

        A call still in flight (queued, running, or its result on the way back) is left
        alone: the executor bounds it by its deadline from when it starts running, and a
        result it wrote is read back.
        """
        fx = Effects()
        task = store.task()
        if task is None or task.check_at == 0.0 or now < task.check_at:
            return fx
        task.check_at = 0.0
        if self._peers_timed_out(store, task, now, fx):
            return fx
        lost = [c for c in self._awaited_calls(task) if not in_flight(c.id)]
        if lost and now >= task.deadline:
            self._fail(store, task, f"no result for step {task.step} before its deadline", now, fx)
            return fx
        if lost:
            task.reissues += 1
            if task.reissues > MAX_REISSUES:
                reason = f"step {task.step} lost its calls {MAX_REISSUES} times"
                self._fail(store, task, reason, now, fx)
                return fx
            fx.calls += lost
        self._arm(task, now, fx, extend=bool(lost))
        store.set_task(task)
        return fx

    # -- transitions -------------------------------------------------------------------

    def _start(self, store: KeyStore, record: InputRecord, now: float, fx: Effects) -> None:
        source = record.source
        if record.reply is not None:
            # A request re-sent by its caller (after the caller's restart) is the same task.
            task_id = task_id_for_request(self.agent.name, record.reply.message_id)
        else:
            task_id = task_id_for(self.agent.name, source.topic, source.partition, source.offset)
        history = store.history()[-self.agent.memory.window :] if self.agent.memory.window else []
        task = TaskState(
            id=task_id,
            input=record,
            started_at=now,
            messages=[*history, {"role": "user", "content": render_input(record.payload)}],
        )
        fx.events.append(
            TaskAccepted(
                agent=self.agent.name,
                key=record.key,
                task_id=task_id,
                input=record.payload,
                source=source,
                at=now,
            )
        )
        self._progress(task, fx)
        self._ask_model_or_fail(store, task, now, fx)

    def _ask_model_or_fail(self, store: KeyStore, task: TaskState, now: float, fx: Effects) -> None:
        if task.step >= self.limits.max_steps:
            reason = f"stopped after {task.step} model calls (max_steps) without a final answer"
            self._fail(store, task, reason, now, fx)
            return
        task.step += 1
        task.awaiting, task.tools, task.reissues = "model", [], 0
        call = self._model_call(task)
        fx.calls.append(call)
        if task.critique is not None:  # the critic's turn: its own prompt, model, no tools
            model, digest, logged = self.critic_label, self.critic_digest, task.critique
            tools: list[str] = []
        else:
            model, digest = self.model_label, self.system_digest
            logged, tools = task.messages[task.logged :], list(self.tool_names)
            task.logged = len(task.messages)
        fx.events.append(
            ModelRequest(
                **self._about(task),
                model=model,
                system_digest=digest,
                messages=logged,
                tools=tools,
                at=now,
            )
        )
        self._arm(task, now, fx, extend=True)
        store.set_task(task)

    def _call_tools(
        self, store: KeyStore, task: TaskState, event: ModelResponse, now: float, fx: Effects
    ) -> None:
        assert event.message is not None
        requested = event.message.tool_calls
        task.messages.append(
            {
                "role": "assistant",
                "content": event.message.content,
                "tool_calls": [
                    {
                        "id": t.id,
                        "type": "function",
                        "function": {"name": t.name, "arguments": t.arguments},
                    }
                    for t in requested
                ],
            }
        )
        task.awaiting, task.reissues = "tools", 0
        task.tools = [
            PendingTool(call=i, call_id=t.id, tool=t.name, arguments=t.arguments)
            for i, t in enumerate(requested)
        ]
        if _follows(task) or self._shown(task):
            names = ", ".join(t.name for t in requested)
            self._progress(task, fx, f"step {task.step}: calling {names}")
        for pending in task.tools:
            if pending.tool in self.peers:
                self._delegate(task, pending, now, fx)
                continue
            if pending.tool == ASK_TOOL and self.agent.human_input:
                self._ask(task, pending, now, fx)
                continue
            fx.calls.append(self._tool_call(task, pending))
            fx.events.append(
                ToolRequest(
                    **self._about(task),
                    call=pending.call,
                    call_id=pending.call_id,
                    tool=pending.tool,
                    arguments=pending.arguments,
                    at=now,
                )
            )
        self._arm(task, now, fx, extend=True)
        self._continue_when_answered(store, task, now, fx)  # delegations refused at once

    def _finish(self, store: KeyStore, task: TaskState, text: str, now: float, fx: Effects) -> None:
        try:
            output = self.agent.validate_output(text)
        except ValueError as exc:
            if task.repaired:
                self._fail(store, task, f"invalid output after one repair: {exc}", now, fx)
                return
            task.repaired = True
            task.messages += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": repair_prompt(str(exc))},
            ]
            self._ask_model_or_fail(store, task, now, fx)
            return
        if self.reflection is not None and task.accepted is None:
            self._critique(store, task, text, output, now, fx)
            return
        record = {**task.input.carry, **output, "task": self._task_view(task, COMPLETED)}
        fx.outputs.append((task.input.key, record))
        self._reply(task, COMPLETED, fx, output=output)
        fx.events.append(
            TaskCompleted(
                **self._about(task),
                output=output,
                usage=task.usage,
                at=now,
            )
        )
        if self.agent.memory.window:
            remembered = [
                *store.history(),
                {"role": "user", "content": render_input(task.input.payload)},
                {"role": "assistant", "content": text},
            ]
            store.set_history(remembered[-self.agent.memory.window :])
        self._next(store, now, fx)

    # -- reflection --------------------------------------------------------------------

    def _critique(
        self,
        store: KeyStore,
        task: TaskState,
        text: str,
        output: dict[str, Any],
        now: float,
        fx: Effects,
    ) -> None:
        """A draft is made (the model's final answer, valid): the critic judges it next.

        With an output schema the critic reads the validated answer as JSON text, and that
        text is the draft kept; the next draft gets a repair round of its own.
        """
        draft = text if self.agent.output is None else json.dumps(output, ensure_ascii=False)
        task.drafts += 1
        task.draft = draft
        task.repaired = False
        task.messages.append({"role": "assistant", "content": text})
        task.critique = critique_request(render_input(task.input.payload), draft)
        self._ask_model_or_fail(store, task, now, fx)

    def _judge(
        self, store: KeyStore, task: TaskState, message: AssistantMessage, now: float, fx: Effects
    ) -> None:
        """The critic's verdict: the draft is the answer, or goes back to the drafter."""
        assert self.reflection is not None and task.draft is not None
        if message.tool_calls:
            names = ", ".join(t.name for t in message.tool_calls)
            reason = (
                f"the critic asked for tools ({names}), but a critic has none: it must answer "
                'with a verdict, {"accept": true|false, "feedback": "..."}'
            )
            self._fail(store, task, reason, now, fx)
            return
        try:
            judged = verdict(message.content or "")
        except ValueError as exc:
            self._fail(store, task, f"the critic's answer is not a verdict: {exc}", now, fx)
            return
        task.critique = None
        if judged.accept or task.drafts >= self.reflection.max_iterations:
            task.accepted = judged.accept
            self._finish(store, task, task.draft, now, fx)
            return
        task.messages.append(revision_request(judged.feedback))
        self._ask_model_or_fail(store, task, now, fx)

    def _fail(self, store: KeyStore, task: TaskState, reason: str, now: float, fx: Effects) -> None:
        self._disarm(task, fx)
        fx.cancelled_calls += [c.id for c in self._awaited_calls(task)]
        view = self._task_view(task, FAILED) | {"error": reason}
        fx.outputs.append((task.input.key, {**task.input.carry, "task": view}))
        self._reply(task, FAILED, fx, error=reason)
        fx.events.append(
            TaskFailed(
                **self._about(task),
                reason=reason,
                usage=task.usage,
                at=now,
            )
        )
        fx.dead_letters.append(self._dead_letter(task, "task.failed", reason, now))
        self._next(store, now, fx)

    def _next(self, store: KeyStore, now: float, fx: Effects) -> None:
        """The key is free: start the oldest waiting input, if any."""
        waiting = store.pop()
        if waiting is None:
            store.set_task(None)
            return
        self._start(store, waiting, now, fx)

    # -- delegation --------------------------------------------------------------------

    def _chain(self, task: TaskState) -> tuple[int, tuple[str, ...]]:
        """How deep in a delegation chain this task runs, and the agents of the chain."""
        reply = task.input.reply
        if reply is None:
            return 0, (self.agent.name,)
        return reply.depth, (*reply.chain, self.agent.name)

    def _delegate(self, task: TaskState, pending: PendingTool, now: float, fx: Effects) -> None:
        peer = self.peers[pending.tool]
        pending.peer = peer
        message_id = delegation_id(task.id, task.step, pending.call)
        depth, chain = self._chain(task)
        text = _delegation_text(pending.arguments)
        fx.events.append(
            PeerRequested(
                **self._about(task),
                call=pending.call,
                call_id=pending.call_id,
                peer=peer,
                message_id=message_id,
                text=text,
                depth=depth + 1,
                at=now,
            )
        )
        problem = None
        if peer in chain:
            problem = f"delegating to {peer} would be a cycle ({' -> '.join([*chain, peer])})"
        elif depth + 1 > self.limits.max_delegation_depth:
            problem = (
                f"delegating to {peer} would make a chain of {depth + 1} delegations, more than "
                f"max_delegation_depth ({self.limits.max_delegation_depth})"
            )
        if problem is not None:
            pending.result, pending.is_error = problem, True
            fx.dead_letters.append(self._dead_letter(task, "tool.failed", problem, now))
            return
        pending.deadline = now + self.limits.peer_timeout.total_seconds()
        fx.delegations.append(
            Delegation(
                caller=self.agent.name,
                peer=peer,
                context_id=routing_key(self.agent.name, task.input.key),
                message_id=message_id,
                text=text,
                depth=depth + 1,
                chain=chain,
                task_id=task.id,
                step=task.step,
            )
        )

    def _peers_timed_out(self, store: KeyStore, task: TaskState, now: float, fx: Effects) -> bool:
        """Give delegations past their deadline a timeout result; True if the step moved on."""
        late = [p for p in _waiting(task) if now >= p.deadline]
        if not late:
            return False
        for pending in late:
            if pending.question is not None:
                seconds = self.limits.input_timeout.total_seconds()
                pending.result = f"nobody answered the question within {seconds:g}s"
            else:
                seconds = self.limits.peer_timeout.total_seconds()
                pending.result = f"agent {pending.peer} did not answer within {seconds:g}s"
            pending.is_error = True
            fx.dead_letters.append(self._dead_letter(task, "tool.failed", pending.result, now))
        if any(p.result is None for p in task.tools):
            return False
        self._continue_when_answered(store, task, now, fx)
        return True

    def _refused(self, record: InputRecord, now: float, fx: Effects) -> bool:
        """Refuse a request from a caller this agent does not accept, or a runaway chain."""
        reply = record.reply
        assert reply is not None
        name = self.agent.name
        if not self.agent.accepts(reply.caller):
            reason = f"agent {name} does not accept requests from {reply.caller}"
        elif name in reply.chain:
            reason = f"delegation cycle: {' -> '.join([*reply.chain, name])}"
        elif reply.depth > self.limits.max_delegation_depth:
            reason = (
                f"delegation chain of {reply.depth} is longer than agent {name}'s "
                f"max_delegation_depth ({self.limits.max_delegation_depth})"
            )
        else:
            return False
        task_id = task_id_for_request(name, reply.message_id)
        fx.events.append(
            RequestRejected(
                agent=name,
                key=record.key,
                task_id=task_id,
                caller=reply.caller,
                message_id=reply.message_id,
                reason=reason,
                at=now,
            )
        )
        fx.replies.append(
            Reply(
                agent=name,
                reply_to=reply.reply_to,
                context_id=record.key,
                correlation_id=reply.correlation_id,
                task_id=task_id,
                state=REJECTED,
                error=reason,
                message_id=reply.message_id,
            )
        )
        return True

    def _reply(
        self,
        task: TaskState,
        state: str,
        fx: Effects,
        output: dict[str, Any] | None = None,
        error: str | None = None,
        progress: bool = False,
    ) -> None:
        """Answer the task's requester; ``progress`` (WORKING) only a requester that follows.

        A task shown in the gateway also sends each answer there; its questions go there
        only, since the requesting agent cannot answer them and waits for the final answer.
        """
        reply = task.input.reply
        if reply is None:
            return
        fields: dict[str, Any] = {
            "agent": self.agent.name,
            "context_id": task.input.key,
            "task_id": task.id,
            "state": state,
            "output": output,
            "error": error,
            "message_id": reply.message_id,
        }
        shown = self._shown(task)
        if (reply.updates or not progress) and not (shown and state == INPUT_REQUIRED):
            fx.replies.append(
                Reply(reply_to=reply.reply_to, correlation_id=reply.correlation_id, **fields)
            )
        if shown:
            assert self.gateway is not None
            fx.replies.append(
                Reply(
                    reply_to=self.gateway.topic,
                    correlation_id=task.id,
                    requester=reply.caller,
                    request=render_input(task.input.payload),
                    **fields,
                )
            )

    def _shown(self, task: TaskState) -> bool:
        """Whether the gateway shows this task: the agent's choice, for others' requests."""
        reply = task.input.reply
        return (
            self.gateway is not None and reply is not None and reply.caller != self.gateway.caller
        )

    def _gateway_answers(self, task: TaskState, caller: str) -> bool:
        """Whether ``caller`` is the gateway answering the question of a task it shows."""
        return self._shown(task) and self.gateway is not None and caller == self.gateway.caller

    # -- helpers -----------------------------------------------------------------------

    def _about(self, task: TaskState) -> dict[str, Any]:
        """Whose step it is: the fields every event and call of a task carries."""
        return {
            "agent": self.agent.name,
            "key": task.input.key,
            "task_id": task.id,
            "step": task.step,
        }

    def _model_call(self, task: TaskState) -> ModelCall:
        if task.critique is not None:
            messages = [{"role": "system", "content": self.critic}, *task.critique]
            return ModelCall(**self._about(task), messages=messages, critic=True)
        messages = [{"role": "system", "content": self.system}, *task.messages]
        return ModelCall(**self._about(task), messages=messages)

    def _tool_call(self, task: TaskState, pending: PendingTool) -> ToolCall:
        return ToolCall(
            **self._about(task),
            call=pending.call,
            call_id=pending.call_id,
            tool=pending.tool,
            arguments=pending.arguments,
        )

    def _awaited_calls(self, task: TaskState) -> list[Call]:
        if task.awaiting == "model":
            return [self._model_call(task)]
        return [
            self._tool_call(task, p)
            for p in task.tools
            if p.result is None and p.peer is None and p.question is None
        ]

    def _arm(self, task: TaskState, now: float, fx: Effects, *, extend: bool) -> None:
        check_every = min(CHECK_INTERVAL_S, self.limits.call_timeout.total_seconds())
        task.check_at = now + check_every
        if extend:
            task.deadline = now + self.limits.call_deadline().total_seconds()
        waiting = [p.deadline for p in _waiting(task)]
        if waiting:
            # A delegation or a question may wait longer than a call; its own deadline ends it.
            task.check_at = min(task.check_at, max(min(waiting), now + 0.05))
            task.deadline = max(task.deadline, max(waiting) + CHECK_INTERVAL_S)
        fx.timers.append(task.check_at)

    def _disarm(self, task: TaskState, fx: Effects) -> None:
        if task.check_at:
            fx.cancelled_timers.append(task.check_at)
            task.check_at = 0.0

    def _task_view(self, task: TaskState, state: str) -> dict[str, Any]:
        view = {
            "id": task.id,
            "context_id": routing_key(self.agent.name, task.input.key),
            "agent": self.agent.name,
            "state": state,
            "steps": task.step,
            "usage": task.usage.model_dump(),
        }
        if self.reflection is not None:
            view["reflection"] = {"drafts": task.drafts, "accepted": task.accepted}
        return view

    def _dead_letter(self, task: TaskState, kind: Any, reason: str, now: float) -> DeadLetter:
        return DeadLetter(
            kind=kind,
            reason=reason,
            agent=self.agent.name,
            key=task.input.key,
            task_id=task.id,
            source=task.input.source,
            payload=task.input.payload,
            at=now,
        )


def _pending_delegation(task: TaskState | None, correlation_id: str) -> PendingTool | None:
    if task is None or task.awaiting != "tools":
        return None
    for pending in task.tools:
        if (
            pending.peer is not None
            and pending.result is None
            and delegation_id(task.id, task.step, pending.call) == correlation_id
        ):
            return pending
    return None


def _follows(task: TaskState) -> bool:
    """Whether the task's requester asked for progress updates (a gateway does)."""
    reply = task.input.reply
    return reply is not None and reply.updates


def _waiting(task: TaskState) -> list[PendingTool]:
    """Calls of the step that wait for someone else (a peer, a person) until a deadline."""
    return [
        p
        for p in task.tools
        if (p.peer is not None or p.question is not None) and p.result is None and p.deadline
    ]


def _open_question(task: TaskState | None) -> PendingTool | None:
    """The oldest question of the task's step that has no answer yet."""
    if task is None or task.awaiting != "tools":
        return None
    return next((p for p in task.tools if p.question is not None and p.result is None), None)


def _question(arguments: str) -> str:
    """The question the model wrote (``{"question": ...}``), or its arguments as they are."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return arguments
    if isinstance(args, dict) and isinstance(args.get("question"), str):
        return str(args["question"])
    return arguments


def delegation_id(task_id: str, step: int, call: int) -> str:
    """The A2A message id of a delegation, which its reply carries as correlation id."""
    return event_id(task_id, step, "a2a.request", call)


def _expects(task: TaskState | None, task_id: str, step: int, awaiting: str) -> bool:
    return (
        task is not None and task.id == task_id and task.step == step and task.awaiting == awaiting
    )


def _pending_tool(task: TaskState | None, event: ToolResult) -> PendingTool | None:
    if not _expects(task, event.task_id, event.step, "tools") or task is None:
        return None
    if not 0 <= event.call < len(task.tools):
        return None
    pending = task.tools[event.call]
    return pending if pending.result is None and pending.call_id == event.call_id else None


def _delegation_text(arguments: str) -> str:
    """The message to a peer: the ``message`` argument the model wrote (or all of them)."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return arguments
    if isinstance(args, dict) and isinstance(args.get("message"), str) and len(args) == 1:
        return str(args["message"])
    return arguments


def render_input(payload: Any) -> str:
    """How an input reaches the model: JSON text (strings as they are)."""
    return payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)


def render_system(agent: Agent) -> str:
    """The system prompt: the instructions, and the output contract when there is one."""
    schema = agent.output_schema()
    if schema is None:
        return agent.instructions
    return (
        f"{agent.instructions}\n\nWhen you give your final answer, reply with only a JSON "
        f"object that matches this JSON schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


def repair_prompt(problem: str) -> str:
    return (
        f"Your answer did not match the required output: {problem}. "
        "Reply again with only the JSON object, matching the schema."
    )
