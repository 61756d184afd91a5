"""An agent shown in the gateway (``Agent.show_in_gateway``): the tasks other agents ask it
for are copied to the gateway, whose person answers their questions, and the gateway's
reply reader turns the copies into tasks it can show."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from flink_agents.a2a import GATEWAY_REPLIES_TOPIC
from flink_agents.a2a import _binding as b
from flink_agents.a2a import _wire as wire
from flink_agents.a2a._replies import ReplyReader
from flink_agents.api import Agent, OpenAIModel
from flink_agents.api.events import (
    AssistantMessage,
    ModelResponse,
    SourceRef,
    ToolCallRequest,
)
from flink_agents.core import (
    ASK_TOOL,
    COMPLETED,
    INPUT_REQUIRED,
    AgentMachine,
    GatewayView,
    InputRecord,
    MemoryStore,
    ModelCall,
    Reply,
    ReplyTo,
)

GATEWAY = GatewayView(caller="a2a-gateway", topic=GATEWAY_REPLIES_TOPIC)
QUESTION = "Block card 7?"


def reviewer(**spec: object) -> Agent:
    return Agent(
        name="review",
        instructions="Review.",
        model=OpenAIModel(model="m", base_url="http://127.0.0.1:1/v1"),
        callers=["triage", "a2a-gateway"],
        human_input=True,
        **spec,  # type: ignore[arg-type]
    )


def request(
    caller: str = "triage", *, task_id: str = "", text: str = "card 7: block?"
) -> InputRecord:
    message_id = f"{caller}-m{len(task_id)}"
    reply = ReplyTo(
        reply_to=f"{caller}.events",
        correlation_id=f"corr-{message_id}",
        caller=caller,
        message_id=message_id,
        task_id=task_id,
        updates=caller == GATEWAY.caller,  # the gateway follows its own requests
    )
    source = SourceRef(topic="a2a.inbox.review", partition=0, offset=len(task_id))
    return InputRecord(payload=text, key="triage/card-7", source=source, reply=reply)


def model_answer(call: ModelCall, *, ask: bool) -> ModelResponse:
    calls = (
        [ToolCallRequest(id="c0", name=ASK_TOOL, arguments=json.dumps({"question": QUESTION}))]
        if ask
        else []
    )
    return ModelResponse(
        agent=call.agent,
        key=call.key,
        task_id=call.task_id,
        step=call.step,
        message=AssistantMessage(content=None if ask else "released", tool_calls=calls),
        at=1.0,
    )


def started(machine: AgentMachine, store: MemoryStore) -> tuple[ModelCall, list[Reply]]:
    fx = machine.on_input(store, request(), 0.0)
    [call] = fx.calls
    assert isinstance(call, ModelCall)
    return call, fx.replies


def asked(machine: AgentMachine, store: MemoryStore) -> tuple[str, list[Reply]]:
    """Start a request whose model asks a question; the task's id and every reply so far."""
    call, replies = started(machine, store)
    fx = machine.on_model_response(store, model_answer(call, ask=True), 1.0)
    task = store.task()
    assert task is not None
    return task.id, [*replies, *fx.replies]


def test_a_shown_task_is_copied_to_the_gateway_with_its_requester_and_request():
    machine, store = AgentMachine(reviewer(show_in_gateway=True), gateway=GATEWAY), MemoryStore()
    _, replies = started(machine, store)
    # The requesting agent does not follow progress; the gateway is told the task works.
    [copy] = replies
    assert (copy.reply_to, copy.state, copy.requester) == (
        GATEWAY.topic,
        "TASK_STATE_WORKING",
        "triage",
    )
    assert copy.request == "card 7: block?" and copy.correlation_id == store.task().id


def test_its_question_goes_to_the_gateway_only_and_the_requester_keeps_waiting():
    machine, store = AgentMachine(reviewer(show_in_gateway=True), gateway=GATEWAY), MemoryStore()
    _, replies = asked(machine, store)
    questions = [r for r in replies if r.state == INPUT_REQUIRED]
    assert [(r.reply_to, r.error) for r in questions] == [(GATEWAY.topic, QUESTION)]
    assert not [r for r in replies if r.reply_to == "triage.events"]


def test_the_gateway_answers_it_and_the_final_answer_goes_to_both():
    machine, store = AgentMachine(reviewer(show_in_gateway=True), gateway=GATEWAY), MemoryStore()
    task_id, _ = asked(machine, store)
    fx = machine.on_input(store, request("a2a-gateway", task_id=task_id, text="yes, block"), 2.0)
    assert [e.kind for e in fx.events] == ["task.resumed", "model.request"]
    [call] = fx.calls
    assert isinstance(call, ModelCall) and call.messages[-1]["content"] == "yes, block"
    fx = machine.on_model_response(store, model_answer(call, ask=False), 3.0)
    finals = {r.reply_to: r for r in fx.replies if r.state == COMPLETED}
    assert set(finals) == {"triage.events", GATEWAY.topic}
    assert finals["triage.events"].correlation_id == "corr-triage-m0"  # the delegation's id
    assert finals["triage.events"].requester == "" and finals[GATEWAY.topic].requester == "triage"


def test_a_third_caller_may_not_answer_a_shown_task():
    machine, store = AgentMachine(reviewer(show_in_gateway=True), gateway=GATEWAY), MemoryStore()
    task_id, _ = asked(machine, store)
    fx = machine.on_input(store, request("intruder", task_id=task_id), 2.0)
    [rejected] = fx.events
    assert rejected.kind == "a2a.rejected"
    assert rejected.reason == (
        f"only triage, which asked for task {task_id}, may answer it (or the gateway that shows it)"
    )


def test_an_agent_not_shown_answers_its_requester_alone():
    machine, store = AgentMachine(reviewer(), gateway=GATEWAY), MemoryStore()
    _, replies = started(machine, store)
    assert replies == []  # the requester does not follow progress, and nothing is copied
    _, replies = asked(AgentMachine(reviewer(), gateway=GATEWAY), MemoryStore())
    assert [r.reply_to for r in replies] == ["triage.events"]  # the question ends its wait
    fx = machine.on_input(store, request("a2a-gateway", task_id=store.task().id), 2.0)
    assert [e.kind for e in fx.events] == ["a2a.rejected"]


def test_the_gateways_own_requests_are_not_copied_twice():
    machine, store = AgentMachine(reviewer(show_in_gateway=True), gateway=GATEWAY), MemoryStore()
    fx = machine.on_input(store, request("a2a-gateway"), 0.0)
    assert [r.reply_to for r in fx.replies] == ["a2a-gateway.events"]


def test_show_in_gateway_needs_callers():
    with pytest.raises(ValidationError, match="show_in_gateway needs callers"):
        Agent(
            name="review",
            instructions="Review.",
            model=OpenAIModel(model="m"),
            show_in_gateway=True,
        )


def test_the_reply_reader_makes_a_task_of_a_copy_and_follows_it_to_its_end():
    class Book:
        def __init__(self) -> None:
            self.tasks: dict[str, object] = {}

        def get(self, task_id: str) -> object | None:
            return self.tasks.get(task_id)

        def put_from_thread(self, task: object) -> None:
            self.tasks[task.id] = task  # type: ignore[attr-defined]

    machine, store = AgentMachine(reviewer(show_in_gateway=True), gateway=GATEWAY), MemoryStore()
    reader = ReplyReader("127.0.0.1:1", Book())  # type: ignore[arg-type]
    task_id, replies = asked(machine, store)
    assert [r.state for r in replies] == [
        "TASK_STATE_WORKING",  # started
        "TASK_STATE_WORKING",  # step 1: calling ask_for_input
        INPUT_REQUIRED,
    ]
    for reply in replies:
        topic, _key, value, headers = wire.reply_record(reply, "review.events")
        assert topic == GATEWAY.topic and headers[b.CORRELATION_ID] == task_id.encode()
        reader.apply(value.encode(), headers)
    task = reader._book.get(task_id)  # type: ignore[attr-defined]
    assert task is not None, "the copy made a task"
    assert task.metadata["agent"] == "review" and task.metadata["requester"] == "triage"
    assert task.context_id == "triage/card-7"
    assert task.history[0].parts[0].text == "card 7: block?"
    assert task.status.state == 6  # TASK_STATE_INPUT_REQUIRED
    assert task.status.message.parts[0].text == QUESTION


def test_an_app_refuses_an_agent_shown_in_a_gateway_it_does_not_accept():
    from flink_agents import AgentApp
    from flink_agents.config import load_settings
    from flink_agents.errors import ConfigError

    settings = load_settings(environ={"FLINK_AGENTS_GATEWAY__CALLER": "desk"}, file=None)
    app = AgentApp("reviews", settings=settings)
    with pytest.raises(ConfigError, match=r"add 'desk' \(the setting gateway.caller\)"):
        app.add(reviewer(show_in_gateway=True), inputs=[], outputs="reviews")
    shown = reviewer(show_in_gateway=True).model_copy(update={"callers": ("triage", "desk")})
    app.add(shown, inputs=[], outputs="reviews")
    assert GATEWAY_REPLIES_TOPIC in app.topics()
