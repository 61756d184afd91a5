"""The call executor on its own: real Kafka, the model simulator, an event loop never blocked."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from blockbuster import blockbuster_ctx

from flink_agents import Agent, Limits, McpServer, OpenAIModel, tool
from flink_agents.core import ModelCall, ToolCall
from flink_agents.runtime._executor import CallExecutor, ExecutorConfig
from flink_agents.testing import ModelServer, Record, Reply, TopicClient

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@tool
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@pytest.fixture
def sim() -> Iterator[ModelServer]:
    with ModelServer(Reply.text("hello")) as server:
        yield server


def make_agent(sim: ModelServer) -> Agent:
    return Agent(
        name="echo",
        instructions="Answer.",
        model=OpenAIModel(model="sim-1", base_url=sim.base_url),
        tools=[
            shout,
            McpServer.stdio(
                sys.executable,
                "-m",
                "tests.mcp_servers.calc_server",
                "--transport",
                "stdio",
                cwd=str(ROOT),
                allowed_tools=["add"],
            ),
        ],
        limits=Limits(call_timeout="5s", backoff="10ms"),
    )


def model_call(step: int, task: str = "task-1") -> ModelCall:
    return ModelCall(
        agent="echo",
        key="k",
        task_id=task,
        step=step,
        messages=[{"role": "user", "content": f"step {step}"}],
    )


def results(topics: TopicClient, topic: str, count: int) -> list[Record]:
    return topics.consume(topic, count=count, timeout=30)


@pytest.fixture
def events_topic(topics: TopicClient) -> str:
    return topics.create(topics.unique("executor-events"))


def start(sim: ModelServer, topics: TopicClient, topic: str) -> CallExecutor:
    config = ExecutorConfig(bootstrap_servers=topics.bootstrap_servers, events_topic=topic)
    return CallExecutor([make_agent(sim)], config).start()


def test_calls_run_off_the_task_thread_and_their_results_reach_the_log(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    with blockbuster_ctx():
        executor = start(sim, topics, events_topic)
        try:
            executor.submit([model_call(1)])
            executor.submit(
                [
                    ToolCall(
                        agent="echo",
                        key="k",
                        task_id="task-1",
                        step=1,
                        call=0,
                        call_id="c0",
                        tool="shout",
                        arguments='{"text": "hi"}',
                    ),
                    ToolCall(
                        agent="echo",
                        key="k",
                        task_id="task-1",
                        step=1,
                        call=1,
                        call_id="c1",
                        tool="add",
                        arguments='{"a": 2, "b": 3}',
                    ),
                ]
            )
            got = {r.value["id"]: r.value for r in results(topics, events_topic, 3)}
        finally:
            executor.close()
    assert got["task-1/1/model.response"]["message"]["content"] == "hello"
    assert got["task-1/1.0/tool.result"]["content"] == "HI"
    assert got["task-1/1.1/tool.result"]["content"] == "5"
    assert executor.tool_names("echo") == ("shout", "add")


def test_results_are_keyed_by_conversation_and_labelled_by_kind(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    executor = start(sim, topics, events_topic)
    try:
        executor.submit([model_call(1)])
        [record] = results(topics, events_topic, 1)
    finally:
        executor.close()
    assert record.key == "echo/k"
    assert record.header("fa-kind") == "model.response"


def test_a_call_already_answered_in_the_log_is_replayed_not_requested_again(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    first = start(sim, topics, events_topic)
    try:
        first.submit([model_call(1)])
        [answered] = results(topics, events_topic, 1)
    finally:
        first.close()

    again = start(sim, topics, events_topic)  # a restart after a failure: it scans the log
    try:
        again.submit([model_call(1)])  # the same step, issued again from restored state
        again.submit([model_call(2)])
        got = results(topics, events_topic, 3)
    finally:
        again.close()
    assert [r.chat.last_user_text for r in sim.requests] == ["step 1", "step 2"]
    replayed = [r for r in got[1:] if r.value["id"] == "task-1/1/model.response"]
    assert [r.value for r in replayed] == [answered.value]  # the recorded answer, again
    assert replayed[0].header("fa-kind") == "model.response"
    assert replayed[0].key == "echo/k"


def test_a_call_submitted_twice_while_running_is_made_once(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    sim.set_latency(300)
    executor = start(sim, topics, events_topic)
    try:
        executor.submit([model_call(1)])
        executor.submit([model_call(1)])
        results(topics, events_topic, 1)
    finally:
        executor.close()
    assert sim.count() == 1


def test_calls_handed_over_in_a_burst_each_run_once_and_a_cancelled_one_not_at_all(
    sim: ModelServer, topics: TopicClient, events_topic: str
):
    """The task thread hands calls over faster than the loop starts them (one wake-up
    starts all those waiting): none is lost, none runs twice, a cancel still stops one."""
    sim.set_latency(300)
    executor = start(sim, topics, events_topic)
    try:
        for step in range(1, 41):
            executor.submit([model_call(step, task=f"task-{step}")])
        executor.cancel(["task-40/40/model.response"])
        got = results(topics, events_topic, 39)
        # The cancelled call's answer would come 300 ms after it started: none comes.
        with pytest.raises(TimeoutError):
            topics.consume(events_topic, count=40, timeout=3)
    finally:
        executor.close()
    ids = Counter(r.value["id"] for r in got)
    assert ids == Counter(f"task-{s}/{s}/model.response" for s in range(1, 40))
    asked = Counter(r.chat.last_user_text for r in sim.requests)
    assert {text: n for text, n in asked.items() if text != "step 40"} == {
        f"step {s}": 1 for s in range(1, 40)
    }
    assert asked["step 40"] <= 1  # sent before the cancel reached it, or never
