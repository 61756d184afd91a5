"""run_agent: a new agent tested in-process, on the job's state machine, tools and memory."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from flink_agents import Agent, Limits, Memory, OpenAIModel, tool
from flink_agents.errors import SpecError
from flink_agents.testing import ChatRequest, ModelServer, Reply, ToolCall, run_agent

SHIPPED: Counter[str] = Counter()


@tool
def order_status(order_id: str) -> dict[str, str]:
    """Where an order is.

    Args:
        order_id: The order, e.g. o-17.
    """
    SHIPPED[order_id] += 1
    return {"order_id": order_id, "status": "shipped", "carrier": "DHL"}


@tool
def refund_window(days_since_delivery: int = 0) -> bool:
    """Whether a refund is still possible."""
    if days_since_delivery < 0:
        raise ValueError("days_since_delivery cannot be negative")
    return days_since_delivery <= 30


class Ticket(BaseModel):
    priority: Literal["low", "normal", "urgent"]
    refund: bool
    summary: str = Field(min_length=5)
    tags: list[str]


support = Agent(
    name="support",
    instructions="Triage the support message: priority, whether a refund applies, a summary.",
    model=OpenAIModel(model="gpt-4o-mini"),
    tools=[order_status, refund_window],
    memory=Memory(window=10),
    output=Ticket,
    limits=Limits(max_steps=4, call_timeout="5s"),
)

MESSAGES = [
    {"ticket": "t-1", "customer": "c-9", "text": "Where is my parcel?"},
    {"ticket": "t-2", "customer": "c-9", "text": "Still nothing, I want my money back"},
    {"ticket": "t-3", "customer": "c-4", "text": "Wrong size"},
]


def test_default_model_needs_no_script_and_outputs_records_shaped_like_the_job():
    run = run_agent(support, MESSAGES, key="customer", carry=["ticket"])

    assert [o["ticket"] for o in run.outputs] == ["t-1", "t-2", "t-3"]
    for message, output in zip(MESSAGES, run.outputs, strict=True):
        answer = {k: v for k, v in output.items() if k not in ("ticket", "customer", "task")}
        Ticket.model_validate(answer)  # the answer fields fit the output schema
        assert list(output)[:2] == ["customer", "ticket"]  # carried fields first, key included
        assert output["customer"] == message["customer"]
        assert output["task"]["state"] == "TASK_STATE_COMPLETED"
        assert output["task"]["context_id"] == f"support/{message['customer']}"
        assert output["task"]["steps"] == 2
    # Each tool once per task, with arguments valid for its schema, then one answer.
    assert Counter(r.tool for r in run.tool_results) == {"order_status": 3, "refund_window": 3}
    assert not any(r.is_error for r in run.tool_results)
    assert run.model_calls == 6
    assert run.dead_letters == []


def test_steps_are_the_events_the_job_would_log_in_order():
    run = run_agent(support, MESSAGES[:1], key="customer")

    kinds = [e.kind for e in run.steps(0)]
    assert kinds[:2] == ["task.accepted", "model.request"]
    assert kinds[-1] == "task.completed"
    assert Counter(kinds) == {
        "task.accepted": 1,
        "model.request": 2,
        "model.response": 2,
        "tool.request": 2,
        "tool.result": 2,
        "task.completed": 1,
    }
    assert len({e.id for e in run.steps(0)}) == len(kinds)  # deterministic, distinct ids


def test_a_script_sees_the_current_task_apart_from_memory():
    seen: list[tuple[int, int, int, list[str]]] = []

    def script(req: ChatRequest) -> Reply:
        task = req.task
        seen.append((req.turn, task.turn, len(task.memory), task.called))
        if task.turn == 0:
            return Reply.tool_calls([ToolCall("order_status", {"order_id": task.input["ticket"]})])
        status = task.result("order_status")["status"]
        return Reply.json(
            {"priority": "normal", "refund": False, "summary": f"parcel {status}", "tags": []}
        )

    run = run_agent(support, MESSAGES[:2], key="customer", model=script)

    assert [o["summary"] for o in run.outputs] == ["parcel shipped", "parcel shipped"]
    # The second task's conversation holds the first task's input and answer (memory), but
    # its own turn count and tool results start from nothing.
    assert seen == [
        (0, 0, 0, []),
        (1, 1, 0, ["order_status"]),
        (1, 0, 2, []),
        (2, 1, 2, ["order_status"]),
    ]


def test_tool_errors_reach_the_model_and_the_dead_letters_and_the_task_goes_on():
    def script(req: ChatRequest) -> Reply:
        if req.task.turn == 0:
            return Reply.tool_calls([ToolCall("refund_window", {"days_since_delivery": -1})])
        [result] = req.task.tool_results
        return Reply.json(
            {"priority": "urgent", "refund": False, "summary": result.content, "tags": ["x"]}
        )

    run = run_agent(support, MESSAGES[:1], model=script)

    [output] = run.outputs
    assert output["task"]["state"] == "TASK_STATE_COMPLETED"
    assert "days_since_delivery cannot be negative" in output["summary"]
    assert [d.kind for d in run.dead_letters] == ["tool.failed"]


def test_a_model_that_refuses_fails_the_task_like_the_job_does():
    run = run_agent(support, MESSAGES[:1], model=Reply.error(400, "context too long"))

    [output] = run.outputs
    assert output["task"]["state"] == "TASK_STATE_FAILED"
    assert "HTTP 400: context too long" in output["task"]["error"]
    assert "priority" not in output
    assert [d.kind for d in run.dead_letters] == ["task.failed"]


def test_an_invalid_answer_gets_one_repair_round_and_the_script_still_sees_the_task():
    inputs: list[object] = []

    def script(req: ChatRequest) -> Reply:
        inputs.append(req.task.input)
        if req.task.turn == 0:
            return Reply.json({"priority": "whenever"})
        return Reply.json({"priority": "low", "refund": False, "summary": "fixed", "tags": []})

    run = run_agent(support, MESSAGES[:1], model=script)

    assert run.outputs[0]["priority"] == "low"
    assert run.model_calls == 2
    assert inputs == [MESSAGES[0], MESSAGES[0]]  # the repair prompt is not the task's input


def test_a_running_model_server_can_serve_several_runs():
    with ModelServer(
        Reply.json({"priority": "low", "refund": True, "summary": "ok ok", "tags": []})
    ) as sim:
        first = run_agent(support, MESSAGES[:1], model=sim)
        second = run_agent(support, MESSAGES[1:], model=sim, key="customer")

    assert [o["refund"] for o in first.outputs + second.outputs] == [True, True, True]
    assert sim.count() == 3
    assert json.loads(sim.requests[0].body["messages"][-1]["content"]) == MESSAGES[0]


def test_a_free_text_agent_gets_its_tool_results_back_as_the_answer():
    agent = Agent(
        name="status",
        instructions="Report the order status.",
        model=OpenAIModel(model="m"),
        tools=[order_status],
    )

    run = run_agent(agent, [{"order_id": "o-1"}])

    assert json.loads(run.outputs[0]["text"])["order_status"]["status"] == "shipped"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["not an object"], r"inputs\[0\] is a str; inputs are JSON objects"),
        ([{"customer": "c"}, {"text": "no key"}], r"inputs\[1\] has no key field 'customer'"),
    ],
)
def test_inputs_the_job_would_reject_are_refused_with_the_reason(
    inputs: list[object], message: str
):
    with pytest.raises(ValueError, match=message):
        run_agent(support, inputs, key="customer")


def test_peers_are_refused_until_delegation_exists():
    with pytest.raises(ValueError, match="agent-to-agent delegation is not available yet"):
        Agent(name="a", instructions="x", model=OpenAIModel(model="m"), peers=("billing",))


def test_a_spec_file_with_peers_names_the_field(tmp_path):
    from flink_agents import load_agent

    spec = tmp_path / "a.yaml"
    spec.write_text("name: a\ninstructions: x\nmodel: m\npeers: [billing]\n")
    with pytest.raises(SpecError, match=r"a.yaml: peers: Value error, agent-to-agent"):
        load_agent(spec)


def test_a_tool_error_never_carries_the_model_key(monkeypatch: pytest.MonkeyPatch):
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("SUPPORT_KEY", secret)

    @tool
    def leaky() -> str:
        """Fails with the key in its message."""
        raise RuntimeError(f"auth failed for {secret}")

    agent = Agent(
        name="leaky",
        instructions="x",
        model=OpenAIModel(model="m", api_key_env="SUPPORT_KEY"),
        tools=[leaky],
    )
    run = run_agent(agent, [{"n": 1}])

    [result] = run.tool_results
    assert result.is_error
    assert "RuntimeError: auth failed for [redacted]" in result.content
    assert secret not in str(run.events) + str(run.dead_letters)


class Line(BaseModel):
    sku: str = Field(min_length=3, max_length=8)
    quantity: int = Field(gt=0, le=99)


class Order(BaseModel):
    status: Literal["open", "closed"]
    lines: list[Line] = Field(min_length=2)
    placed: datetime
    note: str | None = None
    discount: float = Field(default=0.0, ge=0, lt=1)


def test_the_default_model_answers_nested_schemas_validly():
    agent = Agent(name="orders", instructions="x", model=OpenAIModel(model="m"), output=Order)

    run = run_agent(agent, [{"id": 1}])

    answer = {k: v for k, v in run.outputs[0].items() if k != "task"}
    order = Order.model_validate(answer)
    assert len(order.lines) == 2
    assert order.lines[0].quantity >= 1
