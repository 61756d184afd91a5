"""The audit log as OpenTelemetry traces: span structure, GenAI attributes, ids that do not
change between exports, and export to a real OTLP/HTTP receiver."""

from __future__ import annotations

import socket
import time
from collections import Counter

import pytest

from flink_agents.api import events as ev
from flink_agents.config import load_settings
from flink_agents.errors import ConfigError
from flink_agents.local import free_port
from flink_agents.telemetry import LiveTraces, export, span_id_of, task_spans, trace_id_of
from tests.otlp_receiver import OtlpReceiver

A, K = "triage", "card-7"


def _task(task_id: str, *, tool_fails: bool = False, fails: bool = False) -> list[ev.Event]:
    """A task: model asks for a tool and a peer, the tool answers, the peer answers, the model
    answers (or fails)."""
    base = {"agent": A, "key": K, "task_id": task_id}
    call = ev.ToolCallRequest(id="c0", name="merchant_risk", arguments="{}")
    events: list[ev.Event] = [
        ev.TaskAccepted(**base, input={"id": 1}, at=100.0),
        ev.ModelRequest(
            **base, step=1, model="gpt-x@http://models.internal:8000/v1", messages=[], at=100.1
        ),
        ev.ModelResponse(
            **base,
            step=1,
            message=ev.AssistantMessage(tool_calls=[call]),
            usage=ev.Usage(prompt_tokens=120, completion_tokens=9),
            latency_ms=400,
            at=100.5,
        ),
        ev.ToolRequest(
            **base, step=1, call=0, call_id="c0", tool="merchant_risk", arguments="{}", at=100.5
        ),
        ev.PeerRequested(
            **base,
            step=1,
            call=1,
            call_id="c1",
            peer="review",
            message_id="m1",
            text="check",
            at=100.5,
        ),
        ev.ToolResult(
            **base,
            step=1,
            call=0,
            call_id="c0",
            tool="merchant_risk",
            content="boom" if tool_fails else "0.9",
            is_error=tool_fails,
            latency_ms=200,
            at=100.7,
        ),
        ev.PeerAnswered(
            **base,
            step=1,
            call=1,
            call_id="c1",
            peer="review",
            state="TASK_STATE_COMPLETED",
            content="fine",
            at=101.5,
        ),
        ev.ModelRequest(
            **base, step=2, model="gpt-x@http://models.internal:8000/v1", messages=[], at=101.6
        ),
    ]
    if fails:
        error = ev.CallError(type="ModelUnavailable", message="503 from the model")
        events += [
            ev.ModelResponse(**base, step=2, error=error, latency_ms=100, attempts=3, at=102.0),
            ev.TaskFailed(**base, step=2, reason="model call failed", at=102.1),
        ]
    else:
        events += [
            ev.ModelResponse(
                **base,
                step=2,
                message=ev.AssistantMessage(content="{}"),
                usage=ev.Usage(prompt_tokens=200, completion_tokens=20),
                latency_ms=300,
                at=102.0,
            ),
            ev.TaskCompleted(
                **base,
                step=2,
                output={},
                usage=ev.Usage(prompt_tokens=320, completion_tokens=29),
                at=102.1,
            ),
        ]
    return events


def test_a_task_is_one_trace_whose_calls_are_children_of_the_task_span():
    spans = task_spans(_task("t1"))

    assert Counter(s.name for s in spans) == {
        "invoke_agent triage": 1,
        "chat gpt-x": 2,
        "execute_tool merchant_risk": 1,
        "invoke_agent review": 1,
    }
    root = next(s for s in spans if s.parent_id is None)
    assert {s.trace_id for s in spans} == {trace_id_of("t1")}
    assert root.span_id == span_id_of("t1")
    assert all(s.parent_id == root.span_id for s in spans if s is not root)
    assert len({s.span_id for s in spans}) == len(spans)
    assert (root.start, root.end) == (100.0, 102.1)
    tool = next(s for s in spans if s.name.startswith("execute_tool"))
    assert (tool.start, tool.end) == (100.5, 100.7)  # from the request's and result's times
    peer = next(s for s in spans if s.name == "invoke_agent review")
    assert (peer.start, peer.end, peer.kind) == (100.5, 101.5, "client")


def test_the_same_events_give_the_same_ids_in_any_order_and_when_delivered_twice():
    events = _task("t1")
    again = task_spans(list(reversed(events)) + events[2:4])

    assert sorted(task_spans(events), key=lambda s: s.span_id) == sorted(
        again, key=lambda s: s.span_id
    )
    assert trace_id_of("t1") != trace_id_of("t2")


def test_a_task_that_has_not_ended_or_ended_outside_the_range_has_no_trace():
    events = _task("t1")
    assert task_spans(events[:-1]) == []
    assert task_spans(events, from_ms=0, to_ms=102_000) == []
    assert task_spans(events, from_ms=102_000, to_ms=103_000) != []


def test_exported_spans_carry_the_genai_attributes_times_and_errors():
    with OtlpReceiver() as receiver:
        sent = export(
            task_spans(_task("t1", tool_fails=True, fails=True)), receiver.endpoint, "app"
        )
        got = {s.name: s for s in receiver.received() if s.name != "chat gpt-x"}
        chats = sorted(
            (s for s in receiver.received() if s.name == "chat gpt-x"), key=lambda s: s.start_ns
        )

    assert sent == 5 and len(got) + len(chats) == 5
    root = got["invoke_agent triage"]
    assert root.trace_id == f"{trace_id_of('t1'):032x}" and root.parent_id == ""
    assert root.service == "app"
    assert root.status_code == 2 and root.attributes["error.type"] == "task_failed"
    assert root.attributes["gen_ai.conversation.id"] == "triage/card-7"
    assert (root.start_ns, root.end_ns) == (100_000_000_000, 102_100_000_000)
    first, second = chats
    assert first.parent_id == root.span_id and first.kind == 3  # SPAN_KIND_CLIENT
    assert first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.request.model"] == "gpt-x"
    assert first.attributes["server.address"] == "models.internal"
    assert first.attributes["server.port"] == 8000
    assert first.attributes["gen_ai.usage.input_tokens"] == 120
    assert first.attributes["gen_ai.usage.output_tokens"] == 9
    assert first.status_code == 0 and "error.type" not in first.attributes
    assert second.status_code == 2 and second.attributes["error.type"] == "ModelUnavailable"
    assert second.attributes["flink_agents.attempts"] == 3
    tool = got["execute_tool merchant_risk"]
    assert tool.attributes["gen_ai.tool.name"] == "merchant_risk"
    assert tool.attributes["gen_ai.tool.call.id"] == "c0"
    assert tool.attributes["error.type"] == "tool_error" and tool.status_code == 2
    peer = got["invoke_agent review"]
    assert peer.attributes["gen_ai.agent.name"] == "review"
    peer_task = ev.task_id_for_request("review", "m1")  # the task the peer ran the request as
    assert peer.links == [(f"{trace_id_of(peer_task):032x}", f"{span_id_of(peer_task):016x}")]


def test_an_endpoint_nobody_listens_on_is_a_clear_error():
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError, match=rf"{endpoint}/v1/traces did not take 5 span"):
        export(task_spans(_task("t1")), endpoint, "app", timeout_s=1.0)


def test_the_live_endpoint_setting_must_be_an_http_url():
    env = {"FLINK_AGENTS_OBSERVABILITY__OTLP_ENDPOINT": "127.0.0.1:4317"}
    with pytest.raises(ConfigError, match=r"observability\.otlp_endpoint: .*OTLP/HTTP receiver"):
        load_settings(environ=env, file=None)


def test_live_export_never_waits_for_a_receiver_that_does_not_answer():
    """The operator's thread only queues spans: a receiver that accepts connections and never
    answers holds up the exporter's own thread, not ``observe``."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        traces = LiveTraces(f"http://127.0.0.1:{silent.getsockname()[1]}", "app")
        events = [e for i in range(200) for e in _task(f"t{i}")]
        started = time.monotonic()
        for event in events:
            traces.observe(event)
        took = time.monotonic() - started
    assert took < 2.0, f"observing {len(events)} events took {took:.1f}s"
