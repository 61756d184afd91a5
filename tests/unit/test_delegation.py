"""Delegation between agents in the state machine: asking a peer, its answer, refusals,
timeouts, cycles; and the A2A records the runtime makes of them."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from flink_agents.a2a import _wire as wire
from flink_agents.api import Agent, Limits, OpenAIModel
from flink_agents.api.events import AssistantMessage, ModelResponse, SourceRef, ToolCallRequest
from flink_agents.core._machine import AgentMachine, Effects
from flink_agents.core._peers import (
    CANCELED,
    COMPLETED,
    FAILED,
    REJECTED,
    Cancel,
    PeerAnswer,
    ReplyTo,
)
from flink_agents.core._state import InputRecord, MemoryStore, ModelCall


class Verdict(BaseModel):
    verdict: str


def agent(name: str, **spec: object) -> Agent:
    return Agent(
        name=name,
        instructions="Decide.",
        model=OpenAIModel(model="m", base_url="http://127.0.0.1:1/v1"),
        output=Verdict,
        **spec,  # type: ignore[arg-type]
    )


def source(offset: int = 0) -> SourceRef:
    return SourceRef(topic="in", partition=0, offset=offset)


def asks(call: ModelCall, peer: str, message: str = "check card-1") -> ModelResponse:
    return ModelResponse(
        agent=call.agent,
        key=call.key,
        task_id=call.task_id,
        step=call.step,
        message=AssistantMessage(
            tool_calls=[
                ToolCallRequest(id="c0", name=peer, arguments=json.dumps({"message": message}))
            ]
        ),
        at=1.0,
    )


def start(machine: AgentMachine, store: MemoryStore, peer: str = "review") -> Effects:
    fx = machine.on_input(store, InputRecord(payload={"n": 1}, key="k", source=source()), 0.0)
    [call] = fx.calls
    assert isinstance(call, ModelCall)
    return machine.on_model_response(store, asks(call, peer), 1.0)


def request(caller: str = "triage", depth: int = 1, chain: tuple[str, ...] = ("triage",)):
    reply = ReplyTo(
        reply_to="fraud.events",
        correlation_id="m1",
        caller=caller,
        message_id="m1",
        depth=depth,
        chain=chain,
    )
    return InputRecord(payload="check card-1", key="triage/k", source=source(7), reply=reply)


def test_a_peer_is_offered_as_a_tool_and_calling_it_delegates_instead_of_calling():
    machine, store = AgentMachine(agent("triage", peers=["review"])), MemoryStore()
    assert machine.tool_names == ("review",)
    fx = start(machine, store)
    assert fx.calls == []
    [delegation] = fx.delegations
    assert (delegation.peer, delegation.text, delegation.context_id) == (
        "review",
        "check card-1",
        "triage/k",
    )
    assert [e.kind for e in fx.events] == ["a2a.request"]
    assert fx.events[0].id.endswith("/1.0/a2a.request")  # type: ignore[union-attr]


def test_the_peers_final_answer_is_the_tool_result_and_is_applied_once():
    machine, store = AgentMachine(agent("triage", peers=["review"])), MemoryStore()
    [delegation] = start(machine, store).delegations
    answer = PeerAnswer(correlation_id=delegation.message_id, state=COMPLETED, text='{"ok": 1}')
    fx = machine.on_peer_answer(store, answer, 2.0)
    [call] = fx.calls
    assert isinstance(call, ModelCall) and call.step == 2
    assert call.messages[-1] == {"role": "tool", "tool_call_id": "c0", "content": '{"ok": 1}'}
    assert [e.kind for e in fx.events] == ["a2a.answered", "model.request"]
    again = machine.on_peer_answer(store, answer, 3.0)
    assert again.ignored == 1 and again.calls == [] and again.events == []


def test_a_working_update_does_not_end_the_wait():
    machine, store = AgentMachine(agent("triage", peers=["review"])), MemoryStore()
    [delegation] = start(machine, store).delegations
    working = PeerAnswer(correlation_id=delegation.message_id, state="TASK_STATE_WORKING")
    assert machine.on_peer_answer(store, working, 2.0).ignored == 1
    assert store.task() is not None and store.task().tools[0].result is None  # type: ignore[union-attr]


def test_a_rejection_or_failure_reaches_the_model_as_an_error_result():
    machine, store = AgentMachine(agent("triage", peers=["review"])), MemoryStore()
    [delegation] = start(machine, store).delegations
    refused = PeerAnswer(correlation_id=delegation.message_id, state=REJECTED, text="not you")
    fx = machine.on_peer_answer(store, refused, 2.0)
    [call] = fx.calls
    assert call.messages[-1]["content"] == "agent review rejected the request: not you"  # type: ignore[union-attr]
    assert [d.kind for d in fx.dead_letters] == ["tool.failed"]


def test_a_peer_that_does_not_answer_by_peer_timeout_gives_a_timeout_result():
    limits = Limits(peer_timeout="3s")
    machine, store = AgentMachine(agent("triage", peers=["review"], limits=limits)), MemoryStore()
    fx = start(machine, store)
    assert min(fx.timers) <= 1.0 + 3.0
    assert machine.on_timer(store, 2.0, lambda _id: False).calls == []  # not lost: waiting
    fx = machine.on_timer(store, 4.5, lambda _id: False)
    [call] = fx.calls
    assert call.messages[-1]["content"] == "agent review did not answer within 3s"  # type: ignore[union-attr]


def test_a_request_runs_as_a_task_of_its_own_and_answers_the_caller():
    machine, store = AgentMachine(agent("review", callers=["triage"])), MemoryStore()
    fx = machine.on_input(store, request(), 0.0)
    [call] = fx.calls
    assert isinstance(call, ModelCall) and call.messages[-1]["content"] == "check card-1"
    done = ModelResponse(
        agent="review",
        key="triage/k",
        task_id=call.task_id,
        step=1,
        message=AssistantMessage(content='{"verdict": "fine"}'),
        at=1.0,
    )
    fx = machine.on_model_response(store, done, 1.0)
    [reply] = fx.replies
    assert (reply.state, reply.output, reply.reply_to, reply.correlation_id) == (
        COMPLETED,
        {"verdict": "fine"},
        "fraud.events",
        "m1",
    )
    assert fx.outputs[0][0] == "triage/k"


def test_the_same_request_message_is_the_same_task():
    machine = AgentMachine(agent("review", callers=["*"]))
    first, second = MemoryStore(), MemoryStore()
    one = machine.on_input(first, request(), 0.0).calls[0]
    two = machine.on_input(second, request(), 0.0).calls[0]
    assert one.task_id == two.task_id


def test_a_failed_request_task_answers_failed():
    machine, store = AgentMachine(agent("review", callers=["*"])), MemoryStore()
    call = machine.on_input(store, request(), 0.0).calls[0]
    broken = ModelResponse(agent="review", key="triage/k", task_id=call.task_id, step=1, at=1.0)
    [reply] = machine.on_model_response(store, broken, 1.0).replies
    assert reply.state == FAILED and reply.error == "no answer"


@pytest.mark.parametrize(
    ("callers", "req", "reason"),
    [
        (("other",), request(), "agent review does not accept requests from triage"),
        (
            ("*",),
            request(chain=("triage", "review")),
            "delegation cycle: triage -> review -> review",
        ),
        (
            ("*",),
            request(depth=5),
            "delegation chain of 5 is longer than agent review's max_delegation_depth (4)",
        ),
    ],
)
def test_a_request_is_refused_with_the_reason(callers, req, reason):
    machine, store = AgentMachine(agent("review", callers=callers)), MemoryStore()
    fx = machine.on_input(store, req, 0.0)
    assert fx.calls == [] and store.task() is None
    [reply] = fx.replies
    assert (reply.state, reply.error) == (REJECTED, reason)
    [event] = fx.events
    assert event.kind == "a2a.rejected" and event.reason == reason  # type: ignore[union-attr]


def test_a_delegation_back_up_the_chain_fails_at_once_as_a_cycle():
    machine, store = AgentMachine(agent("review", peers=["triage"], callers=["*"])), MemoryStore()
    call = machine.on_input(store, request(), 0.0).calls[0]
    fx = machine.on_model_response(store, asks(call, "triage"), 1.0)  # type: ignore[arg-type]
    assert fx.delegations == []
    [again] = fx.calls
    assert again.messages[-1]["content"] == (  # type: ignore[union-attr]
        "delegating to triage would be a cycle (triage -> review -> triage)"
    )


def test_a_remote_peer_is_a_tool_named_after_its_url_and_is_delegated_to():
    machine, store = (
        AgentMachine(agent("triage", peers=["http://127.0.0.1:8123/a2a/"])),
        MemoryStore(),
    )
    assert machine.tool_names == ("a2a-127-0-0-1-8123-a2a",)
    [delegation] = start(machine, store, peer="a2a-127-0-0-1-8123-a2a").delegations
    assert delegation.peer == "http://127.0.0.1:8123/a2a/"


def test_a_spec_refuses_bad_peer_names_self_and_unknown_caller_names():
    with pytest.raises(ValidationError, match="neither an agent name"):
        agent("triage", peers=["Not A Name"])
    with pytest.raises(ValidationError, match="its own peer"):
        agent("triage", peers=["triage"])
    with pytest.raises(ValidationError, match="neither an agent name"):
        agent("triage", callers=["Not A Name"])


def test_a_request_and_its_answer_round_trip_through_the_a2a_records():
    machine, store = AgentMachine(agent("triage", peers=["review"])), MemoryStore()
    [delegation] = start(machine, store).delegations
    key, value, headers = wire.request_record(delegation, "fraud.events")
    envelope = {
        "headers": {k: v.decode() for k, v in headers.items()},
        "request": json.loads(value),
    }
    payload, reply_to = wire.parse_request(envelope)
    assert payload == "check card-1" and reply_to.caller == "triage" and key == "triage/k"
    peer, peer_store = AgentMachine(agent("review", callers=["triage"])), MemoryStore()
    record = InputRecord(payload=payload, key=key, source=source(3), reply=reply_to)
    call = peer.on_input(peer_store, record, 0.0).calls[0]
    done = ModelResponse(
        agent="review",
        key=key,
        task_id=call.task_id,
        step=1,
        message=AssistantMessage(content='{"verdict": "fine"}'),
        at=1.0,
    )
    [reply] = peer.on_model_response(peer_store, done, 1.0).replies
    topic, reply_key, reply_value, reply_headers = wire.reply_record(reply, "review.events")
    assert (topic, reply_key) == ("fraud.events", "triage/k")
    answer = wire.parse_answer(
        {
            "correlation_id": reply_headers["a2a-correlation-id"].decode(),
            "response": json.loads(reply_value),
        }
    )
    fx = machine.on_peer_answer(store, answer, 2.0)
    assert fx.calls[0].messages[-1]["content"] == '{"verdict": "fine"}'  # type: ignore[union-attr]


def test_a_request_without_a_reply_topic_or_of_another_version_is_refused():
    envelope = {"headers": {"a2a-version": "1.0"}, "request": {"message": {"messageId": "m"}}}
    with pytest.raises(ValueError, match="a2a-reply-to"):
        wire.parse_request(envelope)
    envelope["headers"] = {"a2a-version": "0.3", "a2a-reply-to": "x"}
    with pytest.raises(ValueError, match=r"version 0\.3 is not supported"):
        wire.parse_request(envelope)


def test_cancel_ends_the_running_request_canceled_and_stops_its_calls():
    machine, store = AgentMachine(agent("review", callers=["*"])), MemoryStore()
    fx = machine.on_input(store, request(), 0.0)
    [call] = fx.calls
    task = store.task()
    assert task is not None
    fx = machine.on_cancel(store, "triage/k", Cancel(task_id=task.id, caller="triage"), 1.0)
    assert fx.cancelled_calls == [call.id]
    [reply] = fx.replies
    assert (reply.state, reply.task_id, reply.error) == (CANCELED, task.id, "cancelled by triage")
    assert [e.kind for e in fx.events] == ["task.canceled"]
    [(_, output)] = fx.outputs
    assert output["task"]["state"] == CANCELED
    assert store.task() is None
    # The cancelled call's late result is not applied to anything.
    late = ModelResponse(
        agent="review",
        key="triage/k",
        task_id=task.id,
        step=1,
        message=AssistantMessage(content='{"verdict": "ok"}'),
        at=2.0,
    )
    assert machine.on_model_response(store, late, 2.0).outputs == []


def test_cancel_from_another_caller_or_of_a_task_not_running_is_refused_and_logged():
    machine, store = AgentMachine(agent("review", callers=["*"])), MemoryStore()
    machine.on_input(store, request(), 0.0)
    task = store.task()
    assert task is not None
    fx = machine.on_cancel(store, "triage/k", Cancel(task_id=task.id, caller="mallory"), 1.0)
    [event] = fx.events
    assert event.kind == "a2a.rejected" and "only triage" in event.reason
    assert fx.replies == [] and store.task() is not None
    fx = machine.on_cancel(store, "triage/k", Cancel(task_id="other", caller="triage"), 1.0)
    [event] = fx.events
    assert "task other is neither running nor waiting" in event.reason
    assert store.task() is not None


def test_a_cancel_record_reads_back_and_is_told_from_a_request():
    key, value, headers = wire.cancel_record("triage/k", "t9", "a2a-gateway")
    envelope = {
        "headers": {k: v.decode() for k, v in headers.items()},
        "request": json.loads(value),
    }
    assert wire.is_cancel(envelope) and key == "triage/k"
    assert wire.parse_cancel(envelope) == Cancel(task_id="t9", caller="a2a-gateway")
    with pytest.raises(ValueError, match="needs the id"):
        wire.parse_cancel({"headers": envelope["headers"], "request": {}})
    with pytest.raises(ValueError, match=r"version 0\.3"):
        wire.parse_cancel({"headers": {"a2a-method": "CancelTask"}, "request": {"id": "t9"}})
