"""What scripts see and answer, without a server: ChatRequest helpers, Reply bodies, Fault picks."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from flink_agents.testing import ChatRequest, Fault, Reply, ToolCall, ToolResult, echo


def request(*messages: dict[str, Any], **fields: Any) -> ChatRequest:
    return ChatRequest(model="sim-1", messages=list(messages), **fields)


def assistant_calls(*ids_and_names: tuple[str, str]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": "{}"}}
            for i, n in ids_and_names
        ],
    }


def test_last_user_text_reads_strings_and_text_parts() -> None:
    req = request(
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    )

    assert req.last_user_text == "a\nb"
    assert request({"role": "system", "content": "s"}).last_user_text is None


def test_system_text_joins_system_and_developer_messages() -> None:
    req = request(
        {"role": "system", "content": "one"},
        {"role": "developer", "content": "two"},
        {"role": "user", "content": "u"},
    )

    assert req.system_text == "one\ntwo"
    assert request({"role": "user", "content": "u"}).system_text is None


def test_tool_results_resolve_names_from_the_assistant_call_ids() -> None:
    req = request(
        {"role": "user", "content": "go"},
        assistant_calls(("a", "risk_score"), ("b", "profile")),
        {"role": "tool", "tool_call_id": "b", "content": "gold"},
        {"role": "tool", "tool_call_id": "a", "content": [{"type": "text", "text": "3"}]},
    )

    assert req.tool_results == [
        ToolResult(name="profile", call_id="b", content="gold"),
        ToolResult(name="risk_score", call_id="a", content="3"),
    ]
    assert req.turn == 1


def test_tool_results_are_only_those_answering_the_latest_assistant_turn() -> None:
    old_round = [
        assistant_calls(("a", "risk_score")),
        {"role": "tool", "tool_call_id": "a", "content": "3"},
    ]
    answered = request(
        {"role": "user", "content": "go"},
        *old_round,
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": "again"},
    )
    second_round = request(
        {"role": "user", "content": "go"},
        *old_round,
        assistant_calls(("b", "profile")),
        {"role": "tool", "tool_call_id": "b", "content": "gold"},
    )

    assert answered.tool_results == []
    assert answered.turn == 2
    assert [r.name for r in second_round.tool_results] == ["profile"]


def test_tool_names_and_extra_fields_are_readable() -> None:
    req = request(
        {"role": "user", "content": "x"},
        tools=[{"type": "function", "function": {"name": "risk_score"}}],
        tool_choice="required",
        max_tokens=50,
    )

    assert req.tool_names == ["risk_score"]
    assert req.model_extra == {"tool_choice": "required", "max_tokens": 50}


def test_prompt_tokens_count_words_of_contents_and_call_arguments() -> None:
    req = request(
        {"role": "user", "content": "one two three"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"k": "v w"}'}}],
        },
    )

    assert req.prompt_tokens() == 6
    assert request().prompt_tokens() == 1


def test_reply_bodies_validate_as_openai_sdk_types() -> None:
    replies = [
        Reply.text("hello there"),
        Reply.json({"decision": "APPROVE"}),
        Reply.tool_calls([ToolCall("f", {"a": 1}), ToolCall("g")], text="thinking"),
    ]

    for reply in replies:
        ChatCompletion.model_validate(reply.to_dict(number=4, model="m", prompt_tokens=9))
        for chunk in reply.to_chunks(number=4, model="m", include_usage=True):
            ChatCompletionChunk.model_validate(chunk)


def test_tool_call_ids_default_to_request_number_and_index() -> None:
    body = Reply.tool_calls([ToolCall("f"), ToolCall("g", id="given")]).to_dict(number=12)

    assert [c["id"] for c in body["choices"][0]["message"]["tool_calls"]] == [
        "call_12_0",
        "given",
    ]
    assert body["id"] == "chatcmpl-12"


def test_completion_tokens_are_never_zero() -> None:
    assert Reply.text("").completion_tokens() == 1
    assert Reply.text("a b c").completion_tokens() == 3


def test_echo_answers_the_last_user_text() -> None:
    assert echo(request({"role": "user", "content": "hi"})).content == "hi"
    assert echo(request()).content == ""


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: Reply.tool_calls([]), "at least one ToolCall"),
        (lambda: Reply.error(200, "fine"), "between 400 and 599, got 200"),
        (lambda: Fault.status(500), "exactly one of times=N, every=K or rate=P"),
        (lambda: Fault.status(500, times=1, every=2), "got times, every"),
        (lambda: Fault.status(500, rate=1.5), "between 0 and 1"),
        (lambda: Fault.malformed(every=0), "every must be 1 or more"),
        (lambda: Fault.timeout(-1, times=1), "seconds >= 0"),
    ],
)
def test_invalid_replies_and_faults_say_how_to_fix_them(build: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        build()


def test_times_fault_hits_the_first_n_matching_requests() -> None:
    fault = Fault.status(500, times=2, when=lambda req: req.last_user_text == "x")
    x, y = request({"role": "user", "content": "x"}), request({"role": "user", "content": "y"})

    assert [fault.fires(r) for r in (y, x, y, x, x)] == [False, True, False, True, False]
    assert fault.fired == 2


def test_rate_fault_draws_the_same_sequence_after_restart() -> None:
    fault = Fault.status(503, rate=0.5, seed=9)
    req = request()
    first = [fault.fires(req) for _ in range(20)]
    fault.restart()

    assert [fault.fires(req) for _ in range(20)] == first
    assert 0 < sum(first) < 20


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("500:times=2", "Fault.status(500, times=2)"),
        (
            "429:rate=0.1,seed=7,retry_after=1.5",
            "Fault.status(429, rate=0.1, seed=7, retry_after=1.5)",
        ),
        ("503", "Fault.always(503)"),
        ("timeout=2.5:times=1", "Fault.timeout(2.5, times=1)"),
        ("malformed", "Fault.malformed(every=1)"),
        ("malformed:every=4", "Fault.malformed(every=4)"),
    ],
)
def test_fault_specs_parse(spec: str, expected: str) -> None:
    assert repr(Fault.parse(spec)) == expected


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("500:tims=2", "cannot read option 'tims=2'"),
        ("abc", "invalid literal for int"),
        ("200:times=1", "between 400 and 599"),
        ("malformed:retry_after=1", "retry_after applies only to HTTP status faults"),
    ],
)
def test_bad_fault_specs_show_examples(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape("e.g. '500:times=2'")) as caught:
        Fault.parse(spec)
    assert problem in str(caught.value)
