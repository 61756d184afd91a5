"""The model simulator over real HTTP, driven by the official openai SDK as the framework does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from flink_agents.testing import ChatRequest, Fault, ModelServer, Reply, ToolCall, fingerprint
from tests.support import eventually

USER = [{"role": "user", "content": "card c1 at merchant m1"}]
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "risk_score", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "profile", "parameters": {"type": "object"}}},
]


def fraud_script(req: ChatRequest) -> Reply:
    if not req.tool_results and req.turn == 0:
        return Reply.tool_calls(
            [ToolCall("risk_score", {"merchant_id": "m1"}), ToolCall("profile", {"card_id": "c1"})]
        )
    return Reply.json({"decision": "APPROVE", "reason": "low risk"})


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture
def server(shared_server: ModelServer) -> ModelServer:
    """The module's server, back to its initial state (echo, no latency, no faults)."""
    shared_server.reset()
    return shared_server


@pytest.fixture
def client(server: ModelServer) -> Iterator[OpenAI]:
    sdk = OpenAI(base_url=server.base_url, api_key="sk-test-key", max_retries=0)
    yield sdk
    sdk.close()


def ask(client: OpenAI, content: str = "hello", **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model="sim-1", messages=[{"role": "user", "content": content}], **kwargs
    )


# -- replies -----------------------------------------------------------------------------------


def test_default_script_echoes_the_last_user_message(client: OpenAI) -> None:
    answer = ask(client, "ping pong")

    assert answer.choices[0].message.content == "ping pong"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.id == "chatcmpl-1"


def test_tool_calls_parse_with_the_openai_sdk(server: ModelServer, client: OpenAI) -> None:
    server.set_script(fraud_script)

    answer = client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS)

    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("call_1_0", "risk_score", {"merchant_id": "m1"}),
        ("call_1_1", "profile", {"card_id": "c1"}),
    ]
    assert answer.model == "gpt-4o"


def test_script_sees_the_tool_results_of_its_calls(server: ModelServer, client: OpenAI) -> None:
    seen: list[ChatRequest] = []

    def script(req: ChatRequest) -> Reply:
        seen.append(req)
        return fraud_script(req)

    server.set_script(script)
    first = client.chat.completions.create(model="sim-1", messages=USER, tools=TOOLS)
    calls = first.choices[0].message.tool_calls or []
    messages: list[Any] = [
        *USER,
        first.choices[0].message.model_dump(exclude_none=True),
        *({"role": "tool", "tool_call_id": c.id, "content": f"ok {c.id}"} for c in calls),
    ]
    final = client.chat.completions.create(model="sim-1", messages=messages, tools=TOOLS)

    assert json.loads(final.choices[0].message.content or "") == {
        "decision": "APPROVE",
        "reason": "low risk",
    }
    assert [(r.name, r.call_id, r.content) for r in seen[1].tool_results] == [
        ("risk_score", "call_1_0", "ok call_1_0"),
        ("profile", "call_1_1", "ok call_1_1"),
    ]
    assert (seen[0].turn, seen[1].turn) == (0, 1)
    assert seen[1].tool_names == ["risk_score", "profile"]
    assert seen[1].headers["authorization"] == fingerprint("Bearer sk-test-key")


def test_given_tool_call_ids_and_raw_arguments_are_sent_verbatim(
    server: ModelServer, client: OpenAI
) -> None:
    server.set_script(Reply.tool_calls([ToolCall("profile", "{not json", id="mine")]))

    call = (ask(client).choices[0].message.tool_calls or [])[0]

    assert (call.id, call.function.arguments) == ("mine", "{not json")


def test_json_reply_content_is_the_dumped_object(server: ModelServer, client: OpenAI) -> None:
    server.set_script(Reply.json({"decision": "DENY", "score": 0.9}))

    assert ask(client).choices[0].message.content == '{"decision": "DENY", "score": 0.9}'


def test_response_format_is_left_to_the_script(server: ModelServer, client: OpenAI) -> None:
    server.set_script(lambda req: Reply.text(f"not json; asked {req.response_format}"))
    schema = {"type": "json_schema", "json_schema": {"name": "d", "schema": {"type": "object"}}}

    answer = ask(client, response_format=schema)

    assert answer.choices[0].message.content == f"not json; asked {schema}"


def test_usage_is_counted_in_words_unless_overridden(server: ModelServer, client: OpenAI) -> None:
    server.set_script(Reply.text("three word answer"))
    usage = ask(client, "one two three four").usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 3, 7)

    server.set_script(Reply.text("", usage=(100, 20)))
    usage = ask(client, "x").usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (100, 20)


def test_async_scripts_are_awaited(server: ModelServer, client: OpenAI) -> None:
    async def script(req: ChatRequest) -> Reply:
        # A real suspension: the text exists only once the server has awaited the script.
        text = await asyncio.to_thread(lambda: f"async {req.number}")
        return Reply.text(text)

    server.set_script(script)

    assert ask(client).choices[0].message.content == "async 1"


def test_error_reply_raises_the_matching_sdk_error(server: ModelServer, client: OpenAI) -> None:
    server.set_script(Reply.error(400, "context too long", code="context_length_exceeded"))

    with pytest.raises(openai.BadRequestError) as caught:
        ask(client)

    assert caught.value.status_code == 400
    assert caught.value.code == "context_length_exceeded"
    assert "context too long" in caught.value.message


def test_script_exception_is_a_500_naming_it(server: ModelServer, client: OpenAI) -> None:
    def script(req: ChatRequest) -> Reply:
        raise KeyError("merchant_id")

    server.set_script(script)

    with pytest.raises(openai.InternalServerError, match="script raised KeyError"):
        ask(client)
    assert server.requests[-1].status == 500
    assert "KeyError" in (server.requests[-1].error or "")


def test_script_returning_something_else_is_a_500_saying_what_to_return(
    server: ModelServer, client: OpenAI
) -> None:
    server.set_script(lambda req: "plain string")  # type: ignore[arg-type,return-value]

    with pytest.raises(openai.InternalServerError, match=r"not a Reply; return Reply\.text"):
        ask(client)


# -- faults ------------------------------------------------------------------------------------


def test_first_two_requests_get_429_then_success(server: ModelServer, client: OpenAI) -> None:
    fault = server.add_fault(Fault.status(429, times=2, retry_after=3))

    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            ask(client)
        assert caught.value.response.headers["retry-after"] == "3"
    assert ask(client, "finally").choices[0].message.content == "finally"

    assert [r.status for r in server.requests] == [429, 429, 200]
    assert fault.fired == 2


def test_sdk_retries_honour_retry_after(server: ModelServer) -> None:
    server.add_fault(Fault.status(429, times=2, retry_after=0.01))
    retrying = OpenAI(base_url=server.base_url, api_key="k", max_retries=2)

    started = time.monotonic()
    answer = ask(retrying, "after retries")
    retrying.close()

    assert answer.choices[0].message.content == "after retries"
    assert server.count() == 3
    assert time.monotonic() - started < 2.0, "the SDK waited longer than retry-after"


def test_every_third_request_fails(server: ModelServer, client: OpenAI) -> None:
    server.add_fault(Fault.status(503, every=3))

    statuses = []
    for _ in range(7):
        try:
            ask(client)
            statuses.append(200)
        except openai.APIStatusError as exc:
            statuses.append(exc.status_code)

    assert statuses == [200, 200, 503, 200, 200, 503, 200]


def test_rate_faults_repeat_for_the_same_seed(server: ModelServer, client: OpenAI) -> None:
    def run() -> list[int | None]:
        server.reset()
        server.add_fault(Fault.status(500, rate=0.3, seed=42))
        for _ in range(30):
            with contextlib.suppress(openai.InternalServerError):
                ask(client)
        return [r.status for r in server.requests]

    first, second = run(), run()

    assert first == second
    assert 0 < first.count(500) < 30


def test_always_fault_fails_every_request(server: ModelServer, client: OpenAI) -> None:
    server.add_fault(Fault.always(502))

    for _ in range(3):
        with pytest.raises(openai.APIStatusError) as caught:
            ask(client)
        assert caught.value.status_code == 502


def test_fault_with_when_hits_only_matching_requests(server: ModelServer, client: OpenAI) -> None:
    server.add_fault(Fault.always(500, when=lambda req: req.last_user_text == "bad"))

    assert ask(client, "good").choices[0].message.content == "good"
    with pytest.raises(openai.InternalServerError):
        ask(client, "bad")


def test_faults_apply_in_the_order_added(server: ModelServer, client: OpenAI) -> None:
    server.add_fault(Fault.status(500, times=1))
    server.add_fault(Fault.status(429, times=1))

    with pytest.raises(openai.InternalServerError):
        ask(client)
    with pytest.raises(openai.RateLimitError):
        ask(client)
    assert ask(client, "ok").choices[0].message.content == "ok"


def test_malformed_body_raises_in_the_sdk(server: ModelServer, client: OpenAI) -> None:
    # The SDK lets the JSON error through rather than wrapping it in an openai.APIError.
    server.add_fault(Fault.malformed(times=1))

    with pytest.raises(json.JSONDecodeError):
        ask(client)
    assert server.requests[0].status == 200
    assert ask(client, "fine").choices[0].message.content == "fine"


def test_timeout_fault_trips_a_short_client_timeout(server: ModelServer) -> None:
    server.add_fault(Fault.timeout(3, times=1))
    impatient = OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.3)

    # The server holds the request for 3 s and then answers: only a client that gave up
    # before that raises (no retries).
    with pytest.raises(openai.APITimeoutError):
        ask(impatient)
    assert ask(impatient, "next").choices[0].message.content == "next"
    impatient.close()


# -- latency -----------------------------------------------------------------------------------


def test_concurrent_requests_overlap_their_latency(server: ModelServer) -> None:
    server.set_latency(200)

    async def hundred() -> list[str | None]:
        sdk = AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        replies = await asyncio.gather(
            *(
                sdk.chat.completions.create(
                    model="sim-1", messages=[{"role": "user", "content": f"n{i}"}]
                )
                for i in range(100)
            )
        )
        await sdk.close()
        return [r.choices[0].message.content for r in replies]

    contents = asyncio.run(hundred())

    assert contents == [f"n{i}" for i in range(100)]
    # The server held requests at the same time: at the moment the last one arrived, the
    # first ones (200 ms each) were still being answered, unless the client sent one at
    # a time.
    spans = [(r.time, r.finished or 0.0) for r in server.requests]
    busiest = max(sum(start <= at < end for start, end in spans) for at, _ in spans)
    assert busiest > 10, f"at most {busiest} of 100 requests were in flight together"


def test_latency_delays_each_answer(server: ModelServer, client: OpenAI) -> None:
    server.set_latency(150)
    started = time.monotonic()
    ask(client)
    assert time.monotonic() - started >= 0.15


def test_a_reply_delay_replaces_the_latency(server: ModelServer, client: OpenAI) -> None:
    server.set_latency(2000)
    server.set_script(Reply.text("quick", delay_ms=0))

    started = time.monotonic()
    assert ask(client).choices[0].message.content == "quick"
    assert time.monotonic() - started < 1.0


def test_jitter_spreads_latency_deterministically() -> None:
    def durations() -> list[float]:
        with ModelServer(latency_ms=60, jitter_ms=50, seed=3) as server:
            sdk = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
            for _ in range(5):
                ask(sdk)
            sdk.close()
            requests = server.requests
            assert all((r.finished or 0) - r.time >= (r.delay_ms or 0) / 1000 for r in requests)
            return [r.delay_ms or 0.0 for r in requests]

    first, second = durations(), durations()

    assert all(10.0 <= d <= 110.0 for d in first)  # 60 ms, 50 either side
    assert max(first) - min(first) > 10.0
    assert first == second  # same seed, same draws


# -- recording and control ---------------------------------------------------------------------


def test_records_every_request_in_order(server: ModelServer, client: OpenAI) -> None:
    before = time.time()
    for text in ("one", "two", "three"):
        ask(client, text)

    recorded = server.requests
    assert [r.body["messages"][0]["content"] for r in recorded] == ["one", "two", "three"]
    assert [r.number for r in recorded] == [1, 2, 3]
    assert all(r.path == "/v1/chat/completions" and r.status == 200 for r in recorded)
    assert all(r.headers["authorization"] == fingerprint("Bearer sk-test-key") for r in recorded)
    assert before <= recorded[0].time <= recorded[1].time <= recorded[2].time
    assert recorded[1].chat.last_user_text == "two"


def test_a_recorded_request_never_shows_the_api_key(server: ModelServer, client: OpenAI) -> None:
    ask(client)

    assert "sk-test-key" not in repr(server.requests[0])
    assert "sk-test-key" not in str(server.requests)


def test_count_can_filter_by_a_predicate(server: ModelServer, client: OpenAI) -> None:
    for text in ("a", "b", "a"):
        ask(client, text)

    assert server.count() == 3
    assert server.count(lambda req: req.last_user_text == "a") == 2


def test_reset_restores_the_constructor_behaviour() -> None:
    with ModelServer(Reply.text("base"), faults=[Fault.status(500, times=1)]) as server:
        sdk = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.InternalServerError):
            ask(sdk)
        server.set_script(Reply.text("changed"))
        server.add_fault(Fault.always(503))

        server.reset()

        assert server.requests == []
        with pytest.raises(openai.InternalServerError):
            ask(sdk)
        assert ask(sdk).choices[0].message.content == "base"
        assert ask(sdk).id == "chatcmpl-3"
        sdk.close()


def test_max_recorded_keeps_the_newest_requests() -> None:
    with ModelServer(max_recorded=2) as server:
        sdk = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        for text in ("1", "2", "3"):
            ask(sdk, text)
        sdk.close()

        assert [r.number for r in server.requests] == [2, 3]
        assert server.count() == 3


def test_models_lists_the_default_and_every_model_seen(server: ModelServer, client: OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)

    assert [m.id for m in client.models.list()] == ["sim-1", "gpt-4o-mini"]
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"


def test_control_endpoints_report_and_reset(server: ModelServer, client: OpenAI) -> None:
    server.add_fault(Fault.status(429, times=1))
    with pytest.raises(openai.RateLimitError):
        ask(client, "one two")
    ask(client, "one two")
    root = server.base_url.removesuffix("/v1")

    with httpx.Client(base_url=root) as http:
        stats = http.get("/_sim/stats").json()
        recorded = http.get("/_sim/requests").json()
        assert http.post("/_sim/reset").status_code == 200
        after = http.get("/_sim/stats").json()

    assert stats["requests"] == 2
    assert stats["by_status"] == {"200": 1, "429": 1}
    assert stats["tokens"] == {"prompt": 2, "completion": 2, "total": 4}
    assert [r["status"] for r in recorded] == [429, 200]
    assert recorded[0]["headers"]["authorization"] == fingerprint("Bearer sk-test-key")
    assert after["requests"] == 0
    assert server.requests == []


def test_unknown_paths_get_an_openai_shaped_404(server: ModelServer) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.post("/completions", json={})

    assert answer.status_code == 404
    assert "POST /v1/completions" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{nope", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"model": "m"}', "'messages' is required"),
    ],
)
def test_bad_bodies_get_a_400_saying_what_is_wrong(
    server: ModelServer, body: bytes, problem: str
) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.post("/chat/completions", content=body)

    assert answer.status_code == 400
    assert problem in answer.json()["error"]["message"]
    assert server.requests[0].status == 400


# -- streaming ---------------------------------------------------------------------------------


def test_streaming_chunks_reassemble_to_the_reply(server: ModelServer, client: OpenAI) -> None:
    server.set_script(Reply.text("the quick  brown\nfox"))

    chunks = list(
        client.chat.completions.create(
            model="sim-1",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "the quick  brown\nfox"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 4)


def test_streamed_tool_calls_reassemble_with_the_sdk_helper(
    server: ModelServer, client: OpenAI
) -> None:
    server.set_script(fraud_script)

    with client.chat.completions.stream(model="sim-1", messages=USER, tools=TOOLS) as stream:
        final = stream.get_final_completion()

    calls = final.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_1_0", "risk_score", '{"merchant_id": "m1"}'),
        ("call_1_1", "profile", '{"card_id": "c1"}'),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


def test_streaming_ends_with_done_and_no_usage_unless_asked(server: ModelServer) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.post("/chat/completions", json={"messages": USER, "stream": True})

    events = [line for line in answer.text.split("\n\n") if line]
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "data: [DONE]"
    assert all("usage" not in json.loads(e.removeprefix("data: ")) for e in events[:-1])


# -- lifecycle ---------------------------------------------------------------------------------


def test_stop_answers_waiting_requests_with_503() -> None:
    server = ModelServer(latency_ms=30_000).start()
    outcome: list[BaseException] = []

    def call() -> None:
        sdk = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        try:
            ask(sdk)
        except openai.APIError as exc:
            outcome.append(exc)
        sdk.close()

    caller = threading.Thread(target=call)
    caller.start()
    eventually(lambda: server.stats()["in_flight"] == 1, "one request is in flight")
    started = time.monotonic()
    server.stop()
    caller.join(5)

    assert time.monotonic() - started < 3.0
    assert isinstance(outcome[0], openai.APIStatusError)
    assert outcome[0].status_code == 503
    assert not server.running


def test_a_busy_port_is_reported_with_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*port=0"):
            ModelServer(port=port).start()


def test_starting_twice_is_refused(server: ModelServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        server.start()


def test_a_stopped_server_can_start_again() -> None:
    server = ModelServer(Reply.text("again"))
    for _ in range(2):
        with server:
            sdk = OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
            assert ask(sdk).choices[0].message.content == "again"
            sdk.close()
        assert not server.running


def test_a_failing_when_is_a_500_naming_the_fault(server: ModelServer, client: OpenAI) -> None:
    server.add_fault(Fault.always(429, when=lambda req: req.headers["x-missing"] == "1"))

    with pytest.raises(openai.InternalServerError, match=r"when= of Fault.always\(429"):
        ask(client)


def test_latency_changes_over_http_while_running() -> None:
    import urllib.request

    with ModelServer(Reply.text("ok")) as server:
        url = server.base_url.removesuffix("/v1") + "/_sim/latency"
        request = urllib.request.Request(
            url, data=json.dumps({"latency_ms": 120}).encode(), method="POST"
        )
        with urllib.request.urlopen(request) as answer:
            assert json.loads(answer.read())["latency_ms"] == 120
        client = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="sim-1", messages=[{"role": "user", "content": "x"}])
        [record] = server.requests
        assert record.finished is not None
        assert record.finished - record.time >= 0.12
