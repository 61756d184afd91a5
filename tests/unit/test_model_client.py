"""The model client against the model simulator over real HTTP, with the openai SDK."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from flink_agents.api import Limits, OpenAIModel
from flink_agents.errors import ModelRejected, ModelUnavailable
from flink_agents.models import ChatClient
from flink_agents.testing import Fault, ModelServer, Reply, ToolCall, fingerprint

FAST = Limits(call_timeout="2s", max_retries=3, backoff="10ms", backoff_max="50ms")
SECRET = "sk-test-0123456789abcdefghijklmnop"


class Verdict(BaseModel):
    verdict: str


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Reply.text("fine")) as running:
        yield running


def client(server: ModelServer, limits: Limits = FAST, **model: object) -> ChatClient:
    spec = OpenAIModel(model="sim-1", base_url=server.base_url, **model)  # type: ignore[arg-type]
    return ChatClient(spec, limits)


def complete(chat: ChatClient, tools: list[dict[str, object]] | None = None):  # type: ignore[no-untyped-def]
    async def call():  # type: ignore[no-untyped-def]
        try:
            return await chat.complete([{"role": "user", "content": "hello there"}], tools)
        finally:
            await chat.close()

    return asyncio.run(call())


def test_text_answer_with_usage(server: ModelServer):
    result = complete(client(server))
    assert result.message.content == "fine"
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert result.attempts == 1


def test_tool_calls_are_returned_with_their_arguments(server: ModelServer):
    server.set_script(Reply.tool_calls([ToolCall("risk", {"merchant_id": "m-1"})]))
    result = complete(client(server), tools=[{"type": "function", "function": {"name": "risk"}}])
    [call] = result.message.tool_calls
    assert (call.name, call.arguments) == ("risk", '{"merchant_id": "m-1"}')
    assert server.requests[-1].body["tools"][0]["function"]["name"] == "risk"


def test_server_errors_are_retried_until_success(server: ModelServer):
    server.add_fault(Fault.status(500, times=2))
    result = complete(client(server))
    assert result.message.content == "fine"
    assert result.attempts == 3
    assert server.count() == 3


def test_rate_limit_honours_retry_after(server: ModelServer):
    server.add_fault(Fault.status(429, times=1, retry_after=0.2))
    result = complete(client(server))
    assert result.attempts == 2
    gap = server.requests[1].time - server.requests[0].time
    assert gap >= 0.2


def test_malformed_answers_and_timeouts_are_retried(server: ModelServer):
    server.add_fault(Fault.malformed(times=1))
    server.add_fault(Fault.timeout(5, times=1))
    result = complete(client(server, Limits(call_timeout="500ms", backoff="10ms")))
    assert result.message.content == "fine"
    assert result.attempts == 3


def test_a_model_that_keeps_failing_is_unavailable_after_the_retries(server: ModelServer):
    server.add_fault(Fault.always(503))
    with pytest.raises(ModelUnavailable, match=r"HTTP 503.*after 4 attempts"):
        complete(client(server))
    assert server.count() == 4


def test_a_model_that_never_answers_times_out_with_the_agents_timeout(server: ModelServer):
    server.add_fault(Fault.timeout(5, times=2))
    with pytest.raises(ModelUnavailable, match=r"timed out after 0.3s after 2 attempts$"):
        complete(client(server, Limits(call_timeout="300ms", max_retries=1, backoff="10ms")))
    assert server.count() == 2


def test_a_refused_connection_is_reported_as_such_not_as_a_timeout():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = OpenAIModel(model="sim-1", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelUnavailable) as caught:
        complete(ChatClient(spec, Limits(max_retries=1, backoff="10ms")))
    assert "could not connect (" in str(caught.value)
    assert "timed out" not in str(caught.value)
    assert str(caught.value).endswith("after 2 attempts")


def test_a_rejected_request_is_not_retried_and_hides_the_key(
    server: ModelServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SIM_KEY", SECRET)
    server.add_fault(
        Fault.always(401, message=f"Incorrect API key provided: {SECRET[:12]}...{SECRET[-4:]}")
    )
    with pytest.raises(ModelRejected) as caught:
        complete(client(server, api_key_env="SIM_KEY"))
    assert server.count() == 1
    assert server.requests[0].headers["authorization"] == fingerprint(f"Bearer {SECRET}")
    assert SECRET[:12] not in str(caught.value)
    assert "HTTP 401" in str(caught.value)


def test_output_schema_is_sent_as_response_format(server: ModelServer):
    spec = OpenAIModel(model="sim-1", base_url=server.base_url)
    asyncio.run(ChatClient(spec, FAST, Verdict).complete([{"role": "user", "content": "x"}]))
    fmt = server.requests[-1].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["required"] == ["verdict"]


def test_prompt_mode_sends_no_response_format(server: ModelServer):
    spec = OpenAIModel(model="sim-1", base_url=server.base_url, structured_output="prompt")
    asyncio.run(ChatClient(spec, FAST, Verdict).complete([{"role": "user", "content": "x"}]))
    assert "response_format" not in server.requests[-1].body


def test_openai_without_a_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from flink_agents.errors import ConfigError

    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        ChatClient(OpenAIModel(model="gpt-4o-mini"), FAST)


def test_a_call_makes_no_random_idempotency_key(server: ModelServer, monkeypatch):
    # The SDK's random key per POST is a system call that gives up the interpreter's lock,
    # on the executor's loop, for a key OpenAI's client never sends; the call's id is used.
    import openai._base_client as sdk

    def no_uuid() -> None:
        raise AssertionError("the SDK made a random idempotency key")

    monkeypatch.setattr(sdk.uuid, "uuid4", no_uuid)
    assert complete(client(server)).message.content == "fine"
