"""Human input, progress updates and cancelling a waiting task, in the state machine and in
the A2A records the runtime makes of them."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from flink_agents.a2a import _wire as wire
from flink_agents.api import Agent, Limits, OpenAIModel, tool
from flink_agents.api.events import (
    AssistantMessage,
    ModelResponse,
    SourceRef,
    ToolCallRequest,
    task_id_for_request,
)
from flink_agents.core._machine import AgentMachine
from flink_agents.core._peers import (
    ASK_TOOL,
    CANCELED,
    COMPLETED,
    INPUT_REQUIRED,
    WORKING,
    Cancel,
    ReplyTo,
)
from flink_agents.core._state import InputRecord, MemoryStore, ModelCall

QUESTION = "Which account?"


def agent(**spec: object) -> Agent:
    return Agent(
        name="review",
        instructions="Decide.",
        model=OpenAIModel(model="m", base_url="http://127.0.0.1:1/v1"),
        callers=["*"],
        **spec,  # type: ignore[arg-type]
    )


def request(
    message_id: str = "m1", *, caller: str = "gw", task_id: str = "", text: str = "check it"
) -> InputRecord:
    reply = ReplyTo(
        reply_to="replies",
        correlation_id=message_id,
        caller=caller,
        message_id=message_id,
        task_id=task_id,
        updates=True,
    )
    source = SourceRef(topic="a2a.inbox.review", partition=0, offset=len(message_id))
    return InputRecord(payload=text, key="ctx", source=source, reply=reply)


def answer(call: ModelCall, *names: str, content: str | None = None) -> ModelResponse:
    calls = [
        ToolCallRequest(id=f"c{i}", name=n, arguments=json.dumps({"question": QUESTION}))
        for i, n in enumerate(names)
    ]
    return ModelResponse(
        agent=call.agent,
        key=call.key,
        task_id=call.task_id,
        step=call.step,
        message=AssistantMessage(content=content, tool_calls=calls),
        at=1.0,
    )


def asking(machine: AgentMachine, store: MemoryStore) -> ModelCall:
    """Start a request whose model asks for input; return its first model call."""
    [call] = machine.on_input(store, request(), 0.0).calls
    assert isinstance(call, ModelCall)
    return call


def test_a_question_pauses_the_task_input_required_with_the_question():
    machine, store = AgentMachine(agent(human_input=True)), MemoryStore()
    call = asking(machine, store)
    fx = machine.on_model_response(store, answer(call, ASK_TOOL), 1.0)
    assert fx.calls == []  # nothing for the executor: the requester answers
    assert [(r.state, r.error) for r in fx.replies] == [
        (WORKING, f"step 1: calling {ASK_TOOL}"),
        (INPUT_REQUIRED, QUESTION),
    ]
    [event] = [e for e in fx.events if e.kind == "task.input_required"]
    assert event.question == QUESTION  # type: ignore[union-attr]
    task = store.task()
    assert task is not None and task.tools[0].question == QUESTION
    assert task.tools[0].deadline == 1.0 + 30 * 60  # limits.input_timeout


def test_an_answer_naming_the_task_resumes_it_with_the_answer_as_the_tool_result():
    machine, store = AgentMachine(agent(human_input=True)), MemoryStore()
    call = asking(machine, store)
    machine.on_model_response(store, answer(call, ASK_TOOL), 1.0)
    fx = machine.on_input(store, request("m2", task_id=call.task_id, text="account 42"), 2.0)
    [resumed] = [e for e in fx.events if e.kind == "task.resumed"]
    assert resumed.answer == "account 42" and resumed.caller == "gw"  # type: ignore[union-attr]
    [following] = fx.calls
    assert isinstance(following, ModelCall) and following.step == 2
    assert following.messages[-1] == {"role": "tool", "tool_call_id": "c0", "content": "account 42"}
    assert [r.state for r in fx.replies] == [WORKING]
    # The task answers the request that started it, not the message that answered it.
    done = ModelResponse(
        agent="review",
        key="ctx",
        task_id=call.task_id,
        step=2,
        message=AssistantMessage(content="thanks"),
        at=3.0,
    )
    [reply] = machine.on_model_response(store, done, 3.0).replies
    assert (reply.state, reply.correlation_id, reply.task_id) == (COMPLETED, "m1", call.task_id)


@pytest.mark.parametrize(
    ("task_id", "caller", "reason"),
    [
        ("other-task", "gw", "is not waiting for input"),
        (None, "mallory", "only gw"),
    ],
)
def test_an_answer_to_a_task_not_waiting_or_from_another_caller_is_refused(task_id, caller, reason):
    machine, store = AgentMachine(agent(human_input=True)), MemoryStore()
    call = asking(machine, store)
    machine.on_model_response(store, answer(call, ASK_TOOL), 1.0)
    named = task_id or call.task_id
    fx = machine.on_input(store, request("m2", caller=caller, task_id=named), 2.0)
    [event] = fx.events
    assert event.kind == "a2a.rejected" and reason in event.reason  # type: ignore[union-attr]
    assert fx.replies == [] and fx.calls == []
    task = store.task()
    assert task is not None and task.tools[0].result is None  # still waiting
    assert store.queued() == 0  # an answer is never queued as a new task


def test_a_question_nobody_answers_by_input_timeout_is_an_error_result():
    spec = agent(human_input=True, limits=Limits(input_timeout="60s"))
    machine, store = AgentMachine(spec), MemoryStore()
    call = asking(machine, store)
    machine.on_model_response(store, answer(call, ASK_TOOL), 1.0)
    task = store.task()
    assert task is not None and task.check_at <= 6.0  # checked like the step's other calls
    assert machine.on_timer(store, 30.0, lambda _: False).calls == []
    fx = machine.on_timer(store, 61.0, lambda _: False)
    [following] = fx.calls
    assert isinstance(following, ModelCall)
    assert following.messages[-1]["content"] == "nobody answered the question within 60s"


def test_a_task_from_a_plain_input_cannot_ask_and_goes_on_at_once():
    machine, store = AgentMachine(agent(human_input=True)), MemoryStore()
    plain = InputRecord(
        payload={"n": 1}, key="k", source=SourceRef(topic="in", partition=0, offset=0)
    )
    [call] = machine.on_input(store, plain, 0.0).calls
    assert isinstance(call, ModelCall)
    fx = machine.on_model_response(store, answer(call, ASK_TOOL), 1.0)
    [following] = fx.calls
    assert isinstance(following, ModelCall)
    assert "nobody can answer" in following.messages[-1]["content"]
    assert fx.replies == []


def test_without_human_input_the_tool_is_not_the_machines():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = asking(machine, store)
    fx = machine.on_model_response(store, answer(call, ASK_TOOL), 1.0)
    assert [c.tool for c in fx.calls] == [ASK_TOOL]  # type: ignore[union-attr]


def test_only_a_requester_that_follows_the_task_gets_working_updates():
    machine, store = AgentMachine(agent()), MemoryStore()
    assert [r.state for r in machine.on_input(store, request(), 0.0).replies] == [WORKING]
    quiet = request("m9").model_copy(
        update={"reply": request("m9").reply.model_copy(update={"updates": False})}  # type: ignore[union-attr]
    )
    assert machine.on_input(MemoryStore(), quiet, 0.0).replies == []
    plain = InputRecord(payload=1, key="k", source=SourceRef(topic="in", partition=0, offset=0))
    assert machine.on_input(MemoryStore(), plain, 0.0).replies == []


def test_cancel_of_a_waiting_task_takes_it_out_of_the_queue_and_leaves_the_running_one():
    machine, store = AgentMachine(agent()), MemoryStore()
    [running] = machine.on_input(store, request("m1"), 0.0).calls
    for message_id in ("m2", "m3"):
        machine.on_input(store, request(message_id), 0.0)
    waiting = task_id_for_request("review", "m2")
    fx = machine.on_cancel(store, "ctx", Cancel(task_id=waiting, caller="gw"), 1.0)
    [reply] = fx.replies
    assert (reply.state, reply.task_id, reply.correlation_id) == (CANCELED, waiting, "m2")
    assert [e.kind for e in fx.events] == ["task.canceled"]
    assert fx.outputs[0][1]["task"]["state"] == CANCELED and fx.cancelled_calls == []
    assert [r.reply.message_id for r in store.waiting()] == ["m3"]  # type: ignore[union-attr]
    task = store.task()
    assert task is not None and task.id == running.task_id


def test_cancel_of_a_waiting_task_by_another_caller_is_refused():
    machine, store = AgentMachine(agent()), MemoryStore()
    machine.on_input(store, request("m1"), 0.0)
    machine.on_input(store, request("m2"), 0.0)
    waiting = task_id_for_request("review", "m2")
    fx = machine.on_cancel(store, "ctx", Cancel(task_id=waiting, caller="mallory"), 1.0)
    [event] = fx.events
    assert event.kind == "a2a.rejected" and "only gw" in event.reason  # type: ignore[union-attr]
    assert store.queued() == 1


def test_progress_is_a_status_update_and_a_question_a_task_on_the_wire():
    machine, store = AgentMachine(agent(human_input=True)), MemoryStore()
    call = asking(machine, store)
    working, asked = machine.on_model_response(store, answer(call, ASK_TOOL), 1.0).replies
    _, _, value, _ = wire.reply_record(working, "review.events")
    update = json.loads(value)["statusUpdate"]
    assert update["status"]["state"] == WORKING and update["taskId"] == call.task_id
    _, _, value, _ = wire.reply_record(asked, "review.events")
    task = json.loads(value)["task"]
    assert task["status"]["state"] == INPUT_REQUIRED
    assert task["status"]["message"]["parts"] == [{"text": QUESTION}]


def test_a_request_naming_a_task_and_asking_for_updates_reads_back():
    envelope = {
        "headers": {"a2a-version": "1.0", "a2a-reply-to": "r", "a2a-caller": "gw"},
        "request": {
            "message": {"messageId": "m2", "taskId": "t1", "parts": [{"text": "42"}]},
            "metadata": {"statusUpdates": True},
        },
    }
    payload, reply = wire.parse_request(envelope)
    assert (payload, reply.task_id, reply.updates) == ("42", "t1", True)
    del envelope["request"]["metadata"]  # type: ignore[attr-defined]
    assert wire.parse_request(envelope)[1].updates is False


def test_human_input_needs_callers_and_its_tool_name():
    spec = {"name": "a", "instructions": "x", "model": OpenAIModel(model="m")}
    with pytest.raises(ValidationError, match="human_input needs callers"):
        Agent(**spec, human_input=True)  # type: ignore[arg-type]

    @tool
    def ask_for_input(question: str) -> str:
        """Ask someone."""
        return question

    with pytest.raises(ValidationError, match="built-in tool"):
        Agent(**spec, human_input=True, callers=["*"], tools=[ask_for_input])  # type: ignore[arg-type]


def test_an_agent_whose_peer_asks_for_input_reads_the_question_as_an_error_result():
    spec = {"instructions": "x", "model": OpenAIModel(model="m")}
    caller = AgentMachine(Agent(name="triage", peers=["review"], **spec))  # type: ignore[arg-type]
    caller_store = MemoryStore()
    plain = InputRecord(payload="go", key="k", source=SourceRef(topic="in", partition=0, offset=0))
    [first] = caller.on_input(caller_store, plain, 0.0).calls
    assert isinstance(first, ModelCall)
    delegate = ModelResponse(
        agent="triage",
        key="k",
        task_id=first.task_id,
        step=1,
        message=AssistantMessage(
            tool_calls=[ToolCallRequest(id="c0", name="review", arguments='{"message": "check"}')]
        ),
        at=1.0,
    )
    [delegation] = caller.on_model_response(caller_store, delegate, 1.0).delegations
    key, value, headers = wire.request_record(delegation, "triage.events")
    envelope = {
        "headers": {k: v.decode() for k, v in headers.items()},
        "request": json.loads(value),
    }
    payload, reply_to = wire.parse_request(envelope)
    assert reply_to.updates is False  # an agent asks for no progress records
    peer, peer_store = AgentMachine(agent(human_input=True)), MemoryStore()
    record = InputRecord(
        payload=payload, key=key, source=SourceRef(topic="i", partition=0, offset=1), reply=reply_to
    )
    [call] = peer.on_input(peer_store, record, 2.0).calls
    assert isinstance(call, ModelCall)
    [asked] = peer.on_model_response(peer_store, answer(call, ASK_TOOL), 3.0).replies
    _, _, value, reply_headers = wire.reply_record(asked, "review.events")
    parsed = wire.parse_answer(
        {
            "correlation_id": reply_headers["a2a-correlation-id"].decode(),
            "response": json.loads(value),
        }
    )
    fx = caller.on_peer_answer(caller_store, parsed, 4.0)
    [following] = fx.calls
    assert isinstance(following, ModelCall)
    assert following.messages[-1]["content"] == (
        f"agent review needs input this agent cannot give: {QUESTION}"
    )
