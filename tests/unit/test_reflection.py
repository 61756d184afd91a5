"""Reflection with tools, an output schema and a critic on a model of its own, run by
``run_agent`` on the state machine AgentStep runs, with one model simulator per model.

The drafter looks the order up with its tool in every draft; the critic, on a second
simulator, sends the first draft back and accepts the second. Every result is then served
again by its step id, as an exact replay serves it from the events log.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from flink_agents import Agent, Limits, OpenAIModel, Reflection, tool
from flink_agents.api import events as ev
from flink_agents.api.events import AssistantMessage, ToolCallRequest
from flink_agents.core import COMPLETED, AgentMachine, InputRecord, MemoryStore, PeerAnswer
from flink_agents.testing import ChatRequest, ModelServer, Reply, ToolCall, run_agent

WRITER = "Answer the customer about their order."
CRITIC = "Accept only answers that give the order's status."
LOOKUPS: list[str] = []


@tool
def order_status(order: str) -> str:
    """The shipping status of an order.

    Args:
        order: The order's id.
    """
    LOOKUPS.append(order)
    return f"{order}: shipped"


class Answer(BaseModel):
    status: Literal["shipped", "late", "unknown"]
    message: str


def drafter(req: ChatRequest) -> Reply:
    """Each draft starts with a lookup; the draft then quotes it, numbered."""
    if not req.tool_results:
        request = next(m["content"] for m in req.messages if m.get("role") == "user")
        order = json.loads(request)["order"]
        return Reply.tool_calls([ToolCall("order_status", {"order": order})])
    drafts = sum(
        1 for m in req.messages if m.get("role") == "assistant" and not m.get("tool_calls")
    )
    return Reply.text(f"draft {drafts + 1}: {req.tool_results[-1].content}")


def critic(req: ChatRequest) -> Reply:
    """Sends draft 1 back, accepts every later one."""
    draft = (req.last_user_text or "").rsplit("Draft:\n", 1)[1]
    if draft.startswith("draft 1") or '"message": "first"' in draft:
        return Reply.json({"accept": False, "feedback": "say when it arrives"})
    return Reply.json({"accept": True})


def chats(sim: ModelServer) -> list[ChatRequest]:
    return [r.chat for r in sim.requests if r.path.endswith("/chat/completions")]


def writer_agent(judge: ModelServer, **fields: Any) -> Agent:
    spec: dict[str, Any] = {
        "name": "support",
        "instructions": WRITER,
        "model": OpenAIModel(model="writer"),
        "tools": [order_status],
        "limits": Limits(max_steps=12),
        "reflection": Reflection(
            critic=CRITIC,
            max_iterations=3,
            critic_model=OpenAIModel(model="judge", base_url=judge.base_url, api_key_env="NO_KEY"),
        ),
    }
    return Agent(**(spec | fields))


def test_the_drafter_uses_its_tool_in_each_draft_and_the_critic_runs_on_its_own_model():
    LOOKUPS.clear()
    with ModelServer(drafter) as writer, ModelServer(critic) as judge:
        run = run_agent(writer_agent(judge), [{"order": "o-7"}], model=writer)
        writes, verdicts = chats(writer), chats(judge)
    [out] = run.outputs
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert out["text"] == "draft 2: o-7: shipped"
    assert out["task"]["reflection"] == {"drafts": 2, "accepted": True}
    assert LOOKUPS == ["o-7", "o-7"]  # the tool ran in each draft
    # Two drafts of a tool turn and an answer on the writer's model; two verdicts on the judge.
    assert (len(writes), len(verdicts)) == (4, 2)
    assert all(r.model == "writer" and r.tool_names == ["order_status"] for r in writes)
    assert all(r.model == "judge" and not r.tools for r in verdicts)
    # The revision saw the critic's feedback; the critic saw the request and each draft.
    assert "say when it arrives" in (writes[2].last_user_text or "")
    assert verdicts[0].last_user_text.endswith("Draft:\ndraft 1: o-7: shipped")  # type: ignore[union-attr]
    # The log names the model of every call; the critic's requests offer no tools.
    requests = [e for e in run.events if isinstance(e, ev.ModelRequest)]
    assert [(r.model.split("@")[0], r.tools) for r in requests] == [
        ("writer", ["order_status"]),
        ("writer", ["order_status"]),
        ("judge", []),
        ("writer", ["order_status"]),
        ("writer", ["order_status"]),
        ("judge", []),
    ]
    assert out["task"]["steps"] == 6


def structured_drafter(req: ChatRequest) -> Reply:
    """The first answer of each draft misses a field; the repaired one fits."""
    if not req.tool_results and not req.task.turn:
        return Reply.tool_calls([ToolCall("order_status", {"order": "o-9"})])
    last = req.last_user_text or ""
    if not last.startswith("Your answer did not match"):
        return Reply.text('{"status": "shipped"}')
    revised = any("sent the draft back" in str(m.get("content")) for m in req.messages)
    message = "arrives Friday" if revised else "first"
    return Reply.text(f'```json\n{{"status": "shipped", "message": "{message}"}}\n```')


def test_each_structured_draft_is_validated_and_the_critic_reads_it_as_json():
    with ModelServer(structured_drafter) as writer, ModelServer(critic) as judge:
        agent = writer_agent(judge, output=Answer)
        run = run_agent(agent, [{"order": "o-9"}], model=writer)
        writes, verdicts = chats(writer), chats(judge)
    [out] = run.outputs
    assert out["task"]["state"] == "TASK_STATE_COMPLETED", out["task"].get("error")
    assert (out["status"], out["message"]) == ("shipped", "arrives Friday")
    assert out["task"]["reflection"] == {"drafts": 2, "accepted": True}
    # Each draft had its own repair round; the critic read the validated draft as JSON.
    assert [v.last_user_text.rsplit("Draft:\n", 1)[1] for v in verdicts] == [  # type: ignore[union-attr]
        '{"status": "shipped", "message": "first"}',
        '{"status": "shipped", "message": "arrives Friday"}',
    ]
    # The drafter was asked for the schema; the critic for a verdict, without that schema.
    assert all(r.response_format is not None for r in writes)
    assert all(r.response_format is None for r in verdicts)


def test_a_draft_still_invalid_after_its_repair_fails_the_task():
    with ModelServer(Reply.text('{"status": "lost"}')) as writer, ModelServer(critic) as judge:
        run = run_agent(writer_agent(judge, tools=(), output=Answer), [{"o": 1}], model=writer)
        verdicts = chats(judge)
    [out] = run.outputs
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert out["task"]["error"].startswith("invalid output after one repair")
    assert verdicts == []  # no draft reached the critic
    assert [d.kind for d in run.dead_letters] == ["task.failed"]


def test_a_critic_that_asks_for_a_tool_fails_the_task_with_the_reason():
    wants_tool = Reply.tool_calls([ToolCall("order_status", {"order": "o-1"})])
    with ModelServer(drafter) as writer, ModelServer(wants_tool) as judge:
        LOOKUPS.clear()
        run = run_agent(writer_agent(judge), [{"order": "o-1"}], model=writer)
    [out] = run.outputs
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert out["task"]["error"].startswith("the critic asked for tools (order_status)")
    assert LOOKUPS == ["o-1"]  # the drafter's lookup only: the critic's request was not run


def test_every_result_of_a_reflection_task_is_found_again_by_its_step_id():
    """What an exact replay does: serve each call the result logged under the call's id."""
    LOOKUPS.clear()
    with ModelServer(drafter) as writer, ModelServer(critic) as judge:
        agent = writer_agent(judge)
        run = run_agent(agent, [{"order": "o-3"}], model=writer)
        served_before = len(writer.requests) + len(judge.requests)
        logged = {e.id: e for e in run.events if isinstance(e, ev.ModelResponse | ev.ToolResult)}
        machine, store = AgentMachine(agent), MemoryStore()
        record = InputRecord(
            payload={"order": "o-3"},
            key="test",
            source=ev.SourceRef(topic="run_agent", partition=0, offset=0),
        )
        fx = machine.on_input(store, record, now=0.0)
        calls, outputs, served = list(fx.calls), list(fx.outputs), []
        while calls:
            call = calls.pop(0)
            result = logged[call.id]  # a KeyError is a call the log cannot answer
            served.append(call.id)
            if isinstance(result, ev.ModelResponse):
                fx = machine.on_model_response(store, result, now=1.0)
            else:
                fx = machine.on_tool_result(store, result, now=1.0)
            calls += fx.calls
            outputs += fx.outputs
        assert len(writer.requests) + len(judge.requests) == served_before  # nothing called
    assert sorted(served) == sorted(logged)  # each logged result served once
    assert LOOKUPS == ["o-3", "o-3"]  # the tools ran in the first run only
    [(_key, replayed)] = outputs
    assert replayed == run.outputs[0]


def two_lookups_per_draft(req: ChatRequest) -> Reply:
    """Looks the order up twice in each draft before answering."""
    since_user = 0
    for message in reversed(req.messages):
        if message.get("role") == "user":
            break
        since_user += message.get("role") == "tool"
    if since_user < 2:
        return Reply.tool_calls([ToolCall("order_status", {"order": "o-2"})])
    return Reply.text("draft")


def test_tool_turns_count_against_max_steps_and_a_task_out_of_steps_fails():
    never = Reply.json({"accept": False, "feedback": "more"})
    with ModelServer(two_lookups_per_draft) as writer, ModelServer(never) as judge:
        agent = writer_agent(
            judge,
            limits=Limits(max_steps=6),  # the least two iterations with tools may have
            reflection=Reflection(
                critic=CRITIC,
                max_iterations=2,
                critic_model=OpenAIModel(model="j", base_url=judge.base_url, api_key_env="NO"),
            ),
        )
        run = run_agent(agent, [{"order": "o-2"}], model=writer)
        calls = (len(chats(writer)), len(chats(judge)))
    [out] = run.outputs
    # Draft 1: two tool turns, the draft, the verdict; draft 2: two tool turns, then no step.
    assert calls == (5, 1)
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert out["task"]["error"].startswith("stopped after 6 model calls (max_steps)")


def answered(call: Any, message: AssistantMessage) -> ev.ModelResponse:
    return ev.ModelResponse(
        agent=call.agent, key=call.key, task_id=call.task_id, step=call.step, message=message, at=1
    )


def test_a_drafter_asks_its_peer_in_each_draft_and_the_critic_is_asked_without_it():
    """Delegation is a tool turn of the draft: the peer's answer goes to the drafter's model."""
    writer = Agent(
        name="support",
        instructions=WRITER,
        model=OpenAIModel(model="writer", base_url="http://127.0.0.1:9/v1"),
        peers=["shipping"],
        reflection=Reflection(critic=CRITIC, max_iterations=2),
        limits=Limits(max_steps=6),
    )
    machine, store = AgentMachine(writer), MemoryStore()
    source = ev.SourceRef(topic="in", partition=0, offset=0)
    fx = machine.on_input(store, InputRecord(payload={"order": "o-5"}, key="k", source=source), 0)
    asked = []
    for draft, verdict in (("draft 1", '{"accept": false}'), ("draft 2", '{"accept": true}')):
        [call] = fx.calls
        ask = ToolCallRequest(id=f"c{draft[-1]}", name="shipping", arguments='{"message": "o-5?"}')
        fx = machine.on_model_response(store, answered(call, AssistantMessage(tool_calls=[ask])), 1)
        [delegation] = fx.delegations
        asked.append(delegation.peer)
        answer = PeerAnswer(correlation_id=delegation.message_id, state=COMPLETED, text="Friday")
        fx = machine.on_peer_answer(store, answer, 2)
        [call] = fx.calls
        assert not call.critic and call.messages[-1]["content"] == "Friday"
        fx = machine.on_model_response(store, answered(call, AssistantMessage(content=draft)), 3)
        [judging] = fx.calls
        assert judging.critic and judging.messages[-1]["content"].endswith(f"Draft:\n{draft}")
        [request] = [e for e in fx.events if isinstance(e, ev.ModelRequest)]
        assert request.tools == []  # the critic is offered neither tools nor peers
        fx = machine.on_model_response(
            store, answered(judging, AssistantMessage(content=verdict)), 4
        )
    assert asked == ["shipping", "shipping"]
    [(_key, out)] = fx.outputs
    assert out["text"] == "draft 2" and out["task"]["reflection"] == {"drafts": 2, "accepted": True}
