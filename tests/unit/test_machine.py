"""The agent state machine, on plain data: what each input, result and timer leads to."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from flink_agents.api import Agent, Limits, Memory, OpenAIModel
from flink_agents.api.events import (
    AssistantMessage,
    CallError,
    ModelResponse,
    SourceRef,
    ToolCallRequest,
    ToolResult,
    Usage,
)
from flink_agents.core._machine import AgentMachine, Effects
from flink_agents.core._state import InputRecord, MemoryStore, ModelCall, ToolCall


class Decision(BaseModel):
    decision: Literal["APPROVE", "REVIEW", "BLOCK"]
    reason: str


def agent(**overrides: object) -> Agent:
    spec: dict[str, object] = {
        "name": "triage",
        "instructions": "Decide.",
        "model": OpenAIModel(model="m", base_url="http://127.0.0.1:1/v1"),
        "output": Decision,
    }
    spec.update(overrides)
    return Agent(**spec)  # type: ignore[arg-type]


def record(offset: int, key: str = "card-1", **payload: object) -> InputRecord:
    return InputRecord(
        payload={"tx": offset, **payload},
        key=key,
        source=SourceRef(topic="transactions", partition=0, offset=offset),
        carry={"transaction_id": f"tx-{offset}"},
    )


def answer(call: ModelCall, content: str = "", *tools: tuple[str, str]) -> ModelResponse:
    return ModelResponse(
        agent=call.agent,
        key=call.key,
        task_id=call.task_id,
        step=call.step,
        message=AssistantMessage(
            content=content or None,
            tool_calls=[
                ToolCallRequest(id=f"c{i}", name=name, arguments=args)
                for i, (name, args) in enumerate(tools)
            ],
        ),
        usage=Usage(prompt_tokens=10, completion_tokens=2),
        at=0.0,
    )


def result(call: ToolCall, content: str, is_error: bool = False) -> ToolResult:
    return ToolResult(
        agent=call.agent,
        key=call.key,
        task_id=call.task_id,
        step=call.step,
        call=call.call,
        call_id=call.call_id,
        tool=call.tool,
        content=content,
        is_error=is_error,
        at=0.0,
    )


APPROVE = '{"decision": "APPROVE", "reason": "usual spend"}'


def only_model_call(fx: Effects) -> ModelCall:
    [call] = fx.calls
    assert isinstance(call, ModelCall)
    return call


def test_an_input_starts_a_task_with_a_model_call_carrying_system_and_input():
    machine, store = AgentMachine(agent()), MemoryStore()
    fx = machine.on_input(store, record(1, amount=12.5), now=0.0)
    call = only_model_call(fx)
    assert call.step == 1
    assert call.messages[0]["role"] == "system"
    assert "Decide." in call.messages[0]["content"]
    assert '"decision"' in call.messages[0]["content"]  # the output contract
    assert call.messages[-1] == {"role": "user", "content": '{"tx": 1, "amount": 12.5}'}
    assert fx.timers and store.task() is not None


def test_final_answer_is_validated_and_output_with_carried_fields():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    fx = machine.on_model_response(store, answer(call, APPROVE), now=1.0)
    [(key, out)] = fx.outputs
    assert key == "card-1"
    assert out["transaction_id"] == "tx-1"
    assert (out["decision"], out["reason"]) == ("APPROVE", "usual spend")
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert out["task"]["usage"] == {"prompt_tokens": 10, "completion_tokens": 2}
    assert [e.kind for e in fx.events] == ["task.completed"]
    assert fx.cancelled_timers and store.task() is None


def test_tool_round_trip_feeds_results_back_in_call_order():
    machine, store = AgentMachine(agent()), MemoryStore()
    first = only_model_call(machine.on_input(store, record(1), now=0.0))
    fx = machine.on_model_response(
        store, answer(first, "", ("profile", '{"card_id":"card-1"}'), ("risk", '{"m":"m1"}')), 1.0
    )
    profile, risk = fx.calls
    assert isinstance(profile, ToolCall) and isinstance(risk, ToolCall)
    assert [e.kind for e in fx.events] == ["tool.request", "tool.request"]

    assert machine.on_tool_result(store, result(risk, "0.9"), 2.0).calls == []  # waits for both
    second = only_model_call(machine.on_tool_result(store, result(profile, "{}"), 3.0))

    assert second.step == 2
    assert [m["role"] for m in second.messages[-3:]] == ["assistant", "tool", "tool"]
    assert [m.get("tool_call_id") for m in second.messages[-2:]] == ["c0", "c1"]
    assert second.messages[-1]["content"] == "0.9"


def test_duplicate_and_stale_results_are_ignored():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    response = answer(call, "", ("profile", "{}"))
    assert machine.on_model_response(store, response, 1.0).calls
    again = machine.on_model_response(store, response, 1.5)
    assert again.ignored == 1 and not again.calls and not again.outputs
    [tool] = [c for c in machine._awaited_calls(store.task())]  # type: ignore[arg-type]
    assert isinstance(tool, ToolCall)
    assert machine.on_tool_result(store, result(tool, "{}"), 2.0).calls
    assert machine.on_tool_result(store, result(tool, "{}"), 2.1).ignored == 1


def test_inputs_of_a_busy_key_wait_and_run_in_order():
    machine, store = AgentMachine(agent()), MemoryStore()
    first = only_model_call(machine.on_input(store, record(1), now=0.0))
    assert machine.on_input(store, record(2), now=0.1).calls == []
    assert machine.on_input(store, record(3), now=0.2).calls == []
    second = only_model_call(machine.on_model_response(store, answer(first, APPROVE), 1.0))
    assert second.messages[-1]["content"] == '{"tx": 2}'
    third = only_model_call(machine.on_model_response(store, answer(second, APPROVE), 2.0))
    assert third.messages[-1]["content"] == '{"tx": 3}'
    assert store.waiting() == []


def test_second_task_sees_memory_of_the_first_within_the_window():
    machine, store = AgentMachine(agent(memory=Memory(window=2))), MemoryStore()
    first = only_model_call(machine.on_input(store, record(1), now=0.0))
    machine.on_model_response(store, answer(first, APPROVE), 1.0)
    second = only_model_call(machine.on_input(store, record(2), now=2.0))
    assert second.messages[1:] == [
        {"role": "user", "content": '{"tx": 1}'},
        {"role": "assistant", "content": APPROVE},
        {"role": "user", "content": '{"tx": 2}'},
    ]
    machine.on_model_response(store, answer(second, APPROVE), 3.0)
    assert [m["content"] for m in store.history()] == ['{"tx": 2}', APPROVE]  # window of 2


def test_invalid_output_gets_one_repair_round_then_succeeds():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    repair = only_model_call(
        machine.on_model_response(store, answer(call, '{"decision": "MAYBE"}'), 1)
    )
    assert "did not match the required output" in repair.messages[-1]["content"]
    assert "decision" in repair.messages[-1]["content"]
    fx = machine.on_model_response(store, answer(repair, APPROVE), 2.0)
    assert fx.outputs[0][1]["decision"] == "APPROVE"


def test_invalid_output_twice_fails_the_task_with_a_dead_letter():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    repair = only_model_call(machine.on_model_response(store, answer(call, "no idea"), 1.0))
    fx = machine.on_model_response(store, answer(repair, "still no idea"), 2.0)
    [(_, out)] = fx.outputs
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert out["task"]["error"].startswith("invalid output after one repair")
    assert out["transaction_id"] == "tx-1"
    [dead] = fx.dead_letters
    assert dead.kind == "task.failed" and dead.payload == {"tx": 1}


def test_max_steps_ends_the_task_failed():
    machine, store = AgentMachine(agent(limits=Limits(max_steps=2))), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    for step in range(2):
        fx = machine.on_model_response(store, answer(call, "", ("profile", "{}")), float(step))
        [tool] = fx.calls
        assert isinstance(tool, ToolCall)
        fx = machine.on_tool_result(store, result(tool, "{}"), float(step) + 0.5)
        if step == 0:
            call = only_model_call(fx)
    [(_, out)] = fx.outputs
    assert "max_steps" in out["task"]["error"]
    assert out["task"]["steps"] == 2


def test_model_failure_fails_the_task_and_starts_the_next_input():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    machine.on_input(store, record(2), now=0.1)
    failure = ModelResponse(
        agent=call.agent,
        key=call.key,
        task_id=call.task_id,
        step=call.step,
        error=CallError(type="ModelUnavailable", message="HTTP 500 after 4 attempts"),
        at=1.0,
    )
    fx = machine.on_model_response(store, failure, 1.0)
    assert fx.outputs[0][1]["task"]["error"] == (
        "model call failed: ModelUnavailable: HTTP 500 after 4 attempts"
    )
    assert [d.kind for d in fx.dead_letters] == ["task.failed"]
    assert only_model_call(fx).messages[-1]["content"] == '{"tx": 2}'


def test_tool_error_reaches_the_model_and_the_dead_letters():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    [tool] = machine.on_model_response(store, answer(call, "", ("profile", "{}")), 1.0).calls
    assert isinstance(tool, ToolCall)
    fx = machine.on_tool_result(store, result(tool, "unknown card_id 'x'", is_error=True), 2.0)
    assert only_model_call(fx).messages[-1]["content"] == "unknown card_id 'x'"
    assert [(d.kind, d.reason) for d in fx.dead_letters] == [("tool.failed", "unknown card_id 'x'")]


def test_a_lost_call_is_issued_again_at_its_check_and_a_live_one_is_left_alone():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    check = store.task().check_at  # type: ignore[union-attr]
    assert machine.on_timer(store, check - 1, in_flight=lambda _id: False).calls == []  # early
    assert machine.on_timer(store, check, in_flight=lambda _id: True).calls == []  # still running
    later = store.task().check_at  # type: ignore[union-attr]
    [again] = machine.on_timer(store, later, in_flight=lambda _id: False).calls
    assert again == call  # same ids: a result of either attempt is applied once


def test_a_step_whose_calls_are_lost_past_its_deadline_fails():
    limits = Limits(call_timeout="1s", max_retries=0)
    machine, store = AgentMachine(agent(limits=limits)), MemoryStore()
    machine.on_input(store, record(1), now=0.0)
    deadline = store.task().deadline  # type: ignore[union-attr]
    fx = machine.on_timer(store, deadline, in_flight=lambda _id: False)
    assert "before its deadline" in fx.outputs[0][1]["task"]["error"]


def test_a_call_still_in_flight_past_the_deadline_is_waited_for_not_failed_or_reissued():
    # The executor bounds a running call by its deadline from when it starts; a call that
    # waited for room, or whose result is on its way back, is not lost.
    limits = Limits(call_timeout="1s", max_retries=0)
    machine, store = AgentMachine(agent(limits=limits)), MemoryStore()
    machine.on_input(store, record(1), now=0.0)
    deadline = store.task().deadline  # type: ignore[union-attr]
    fx = machine.on_timer(store, deadline + 60, in_flight=lambda _id: True)
    assert (fx.outputs, fx.calls) == ([], [])
    assert fx.timers and store.task() is not None


def test_a_failed_task_cancels_the_calls_it_awaited():
    machine, store = AgentMachine(agent()), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    fx = machine.on_error(store, "the agent step raised RuntimeError: boom", now=1.0)
    assert fx.cancelled_calls == [call.id]
    assert fx.outputs[0][1]["task"]["error"] == "the agent step raised RuntimeError: boom"
    assert store.task() is None


def test_a_full_key_queue_dead_letters_the_input_and_keeps_the_rest():
    machine, store = AgentMachine(agent(limits=Limits(max_queued_inputs=2))), MemoryStore()
    machine.on_input(store, record(0), now=0.0)  # runs
    depths = [machine.on_input(store, record(n), now=0.0).queued for n in (1, 2)]
    full = machine.on_input(store, record(3), now=0.0)
    assert depths == [1, 2]
    [letter] = full.dead_letters
    assert letter.kind == "input.rejected" and "max_queued_inputs" in letter.reason
    assert letter.payload == record(3).payload
    assert [r.source.offset for r in store.waiting()] == [1, 2]


def test_free_text_agents_output_text():
    machine, store = AgentMachine(agent(output=None)), MemoryStore()
    call = only_model_call(machine.on_input(store, record(1), now=0.0))
    fx = machine.on_model_response(store, answer(call, "Looks fine."), 1.0)
    assert fx.outputs[0][1]["text"] == "Looks fine."


def test_task_ids_are_deterministic_per_input_record():
    a, b = MemoryStore(), MemoryStore()
    first = only_model_call(AgentMachine(agent()).on_input(a, record(7), now=0.0))
    again = only_model_call(AgentMachine(agent()).on_input(b, record(7), now=5.0))
    other = only_model_call(AgentMachine(agent()).on_input(MemoryStore(), record(8), now=0.0))
    assert first.task_id == again.task_id != other.task_id


def test_model_requests_log_each_message_once():
    machine, store = AgentMachine(agent()), MemoryStore()
    first = machine.on_input(store, record(1), now=0.0)
    request = first.events[-1]
    assert request.kind == "model.request"
    assert request.messages == [{"role": "user", "content": '{"tx": 1}'}]
    assert len(request.system_digest) == 16
    [tool] = machine.on_model_response(
        store, answer(only_model_call(first), "", ("profile", "{}")), 1.0
    ).calls
    assert isinstance(tool, ToolCall)
    second = machine.on_tool_result(store, result(tool, "gold"), 2.0)
    logged = next(e for e in second.events if e.kind == "model.request").messages
    assert [m["role"] for m in logged] == ["assistant", "tool"]
    assert only_model_call(second).messages[1:] == request.messages + logged


def test_the_log_rebuilds_exactly_what_the_model_was_sent_at_every_step():
    from flink_agents.api.events import STEP_KIND, events_in, sent_messages, step_record

    machine = AgentMachine(agent(memory=Memory(window=4)), tool_names=("risk",))
    store, logged, sent = MemoryStore(), [], []

    def step(fx: Effects) -> Effects:
        logged.extend(events_in(STEP_KIND, step_record(fx.events)) if fx.events else [])
        sent.extend(c for c in fx.calls if isinstance(c, ModelCall))
        return fx

    for offset in (1, 2):  # the second task starts with the first one's memory
        call = only_model_call(step(machine.on_input(store, record(offset), 0.0)))
        fx = step(machine.on_model_response(store, answer(call, "", ("risk", "{}")), 0.0))
        [tool] = fx.calls
        assert isinstance(tool, ToolCall)
        call = only_model_call(step(machine.on_tool_result(store, result(tool, "7"), 0.0)))
        step(machine.on_model_response(store, answer(call, APPROVE), 0.0))

    assert len(sent) == 4
    # The second task's first request starts with the first task's input and answer.
    assert sent[2].messages[1:3] == [
        *sent[1].messages[1:2],
        {"role": "assistant", "content": APPROVE},
    ]
    for call in sent:
        rebuilt = sent_messages(logged, call.task_id, call.step, system=machine.system)
        assert rebuilt == call.messages
