"""The operator's side of the call process counts calls as the child reports them.

The child's end of the socket is read here, so what the operator sends is checked too.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest

from flink_agents import Agent, Limits, OpenAIModel
from flink_agents.core import ModelCall
from flink_agents.runtime._call_process import CallProcess
from flink_agents.runtime._executor_config import ExecutorConfig


def model_call(step: int) -> ModelCall:
    return ModelCall(agent="calls", key="k", task_id="t", step=step, messages=[])


@pytest.fixture
def wired() -> Iterator[tuple[CallProcess, Connection]]:
    spec = Agent(
        name="calls",
        instructions="Answer.",
        model=OpenAIModel(model="m", base_url="http://127.0.0.1:1/v1"),
        limits=Limits(max_in_flight=2),
    )
    calls = CallProcess([spec], ExecutorConfig(bootstrap_servers="-", events_topic="events"))
    ours, theirs = socket.socketpair()
    calls._conn = Connection(ours.detach())
    child = Connection(theirs.detach())
    yield calls, child
    child.close()
    calls._conn.close()


def test_a_result_read_back_before_the_childs_report_frees_its_slot_once(wired):
    calls, child = wired
    first, second = model_call(1), model_call(2)
    calls.submit([first, second])
    assert child.recv() == ("submit", [first, second])
    calls.settle([first.id])  # read back through Kafka before the report came
    calls._handed([first.id, second.id])  # the report, late for the first
    assert calls.admitted("calls") == 0
    assert (calls.in_flight(first.id), calls.in_flight(second.id)) == (False, True)


def test_a_cancel_is_sent_and_a_late_report_of_the_cancelled_call_changes_nothing(wired):
    calls, child = wired
    call = model_call(1)
    calls.submit([call])
    child.recv()
    calls.cancel([call.id])
    assert child.recv() == ("cancel", [call.id])
    calls._handed([call.id])
    assert calls.admitted("calls") == 0
    assert not calls.in_flight(call.id)


def test_a_call_already_in_flight_is_not_sent_again(wired):
    calls, child = wired
    call = model_call(1)
    calls.submit([call])
    calls._handed([call.id])  # written, not yet read back
    calls.submit([call])  # a check firing now
    calls.submit([model_call(2)])
    assert child.recv() == ("submit", [call])
    assert child.recv() == ("submit", [model_call(2)])
    assert not child.poll(0)


def test_submit_waits_once_twice_max_in_flight_are_handed_over_until_a_report(wired):
    calls, child = wired
    running = [model_call(step) for step in range(1, 5)]
    calls.submit(running)  # two to run and two to wait, with max_in_flight=2
    assert child.recv() == ("submit", running)
    late = threading.Thread(target=calls.submit, args=([model_call(5)],))
    late.start()
    assert not child.poll(0.5), "a fifth call was sent while four were handed over"
    calls._handed([running[0].id])
    assert child.recv() == ("submit", [model_call(5)])
    late.join(5)
    assert calls.admitted("calls") == 4
