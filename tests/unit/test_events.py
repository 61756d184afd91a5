"""The events topic's records: the compact shapes read back whole, and so do the old ones."""

from __future__ import annotations

import json

from flink_agents.api.events import (
    STEP_KIND,
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SourceRef,
    TaskAccepted,
    TaskCompleted,
    ToolRequest,
    ToolResult,
    events_in,
    parse_event,
    result_record,
    step_record,
)

ENDED = TaskCompleted(
    agent="triage", key="card-7", task_id="t-1", step=1, output={"label": "normal"}, at=3.5
)
NEXT = TaskAccepted(
    agent="triage",
    key="card-7",
    task_id="t-2",
    input={"card_id": "card-7", "note": "café"},
    source=SourceRef(topic="tx", partition=0, offset=4),
    at=3.5,
)
ASKED = ModelRequest(
    agent="triage",
    key="card-7",
    task_id="t-2",
    step=1,
    model="m",
    system_digest="abc",
    messages=[{"role": "user", "content": "hi"}],
    at=3.5,
)
ANSWERED = ModelResponse(
    agent="triage",
    key="card-7",
    task_id="t-2",
    step=1,
    message=AssistantMessage(content='{"label": "normal"}'),
    at=4.0,
)

#: A step record as the version before compact steps wrote it (every event whole).
OLD_STEP = (
    '{"v":1,"kind":"step","events":[{"v":1,"agent":"triage","key":"card-7","task_id":"t-1",'
    '"step":1,"at":3.5,"kind":"task.completed","output":{"label":"normal"},"usage":'
    '{"prompt_tokens":0,"completion_tokens":0},"context_id":"triage/card-7",'
    '"id":"t-1/1/task.completed"}]}'
)
#: A result record as that version wrote it.
OLD_RESULT = (
    '{"v":1,"agent":"triage","key":"card-7","task_id":"t-2","step":1,"at":4.0,'
    '"kind":"model.response","message":{"content":"{\\"label\\": \\"normal\\"}",'
    '"tool_calls":[]},"usage":{"prompt_tokens":0,"completion_tokens":0},"latency_ms":0.0,'
    '"attempts":1,"error":null,"context_id":"triage/card-7","id":"t-2/1/model.response"}'
)


def whole(*events: object) -> list[dict[str, object]]:
    return [e.model_dump(mode="json") for e in events]  # type: ignore[attr-defined]


def test_a_step_that_ends_one_task_and_starts_the_next_reads_back_every_event_whole():
    record = step_record([ENDED, NEXT, ASKED])

    assert events_in(STEP_KIND, record) == whole(ENDED, NEXT, ASKED)
    assert events_in(None, record) == whole(ENDED, NEXT, ASKED)  # the value names its kind
    assert [e["id"] for e in events_in(STEP_KIND, record)] == [
        "t-1/1/task.completed",
        "t-2/0/task.accepted",
        "t-2/1/model.request",
    ]


def test_a_step_record_states_the_conversation_once_and_the_next_task_id_once():
    text = step_record([ENDED, NEXT, ASKED])

    assert text.count("card-7") == 2  # the record's key, and the input's card_id
    assert text.count('"t-2"') == 1
    assert '"context_id"' not in text and '"id"' not in text
    assert len(text) < 0.6 * sum(len(e.model_dump_json()) for e in (ENDED, NEXT, ASKED))


def test_tool_requests_of_a_step_keep_their_call_numbers_and_ids():
    calls = [
        ToolRequest(
            agent="a",
            key="k",
            task_id="t",
            step=2,
            call=i,
            call_id=f"c{i}",
            tool="x",
            arguments="{}",
            at=1.0,
        )
        for i in range(2)
    ]

    events = events_in(STEP_KIND, step_record(calls))

    assert events == whole(*calls)
    assert [e["id"] for e in events] == ["t/2.0/tool.request", "t/2.1/tool.request"]


def test_a_step_record_written_before_compact_steps_reads_the_same():
    assert events_in(STEP_KIND, OLD_STEP) == whole(ENDED)


def test_a_result_keeps_its_id_for_the_scans_and_parses_back_equal():
    record = result_record(ANSWERED)

    assert json.loads(record)["id"] == "t-2/1/model.response"
    assert parse_event(record) == ANSWERED
    assert events_in(b"model.response", record) == whole(ANSWERED)


def test_a_result_written_before_compact_results_reads_the_same():
    assert parse_event(OLD_RESULT) == ANSWERED
    assert events_in(b"model.response", OLD_RESULT) == whole(ANSWERED)


def test_a_tool_result_with_an_error_keeps_it():
    failed = ToolResult(
        agent="a",
        key="k",
        task_id="t",
        step=1,
        call=0,
        call_id="c0",
        tool="x",
        content="boom",
        is_error=True,
        at=1.0,
    )

    assert parse_event(result_record(failed)) == failed
    assert json.loads(result_record(failed))["id"] == "t/1.0/tool.result"


def test_an_event_of_a_newer_kind_in_a_step_is_kept_as_written():
    record = (
        '{"v":2,"kind":"step","agent":"a","key":"k","task_id":"t","at":1.0,'
        '"events":[{"kind":"task.later","step":3,"extra":1}]}'
    )

    assert events_in(STEP_KIND, record) == [
        {
            "kind": "task.later",
            "step": 3,
            "extra": 1,
            "agent": "a",
            "key": "k",
            "task_id": "t",
            "at": 1.0,
        }
    ]
