"""Chat completions through the official ``openai`` SDK, with our retries and error classes.

The same code talks to OpenAI, vLLM, Ollama, llama.cpp and the project's model simulator.
The SDK's own retries are off: retries here are counted (metrics, events), honour
``Retry-After`` and use the agent's limits.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from pydantic import BaseModel

from flink_agents._redact import redact
from flink_agents._tls import tls_context
from flink_agents.api import Limits, OpenAIModel
from flink_agents.api.events import AssistantMessage, ToolCallRequest, Usage
from flink_agents.errors import ModelRejected, ModelUnavailable

_MAX_RETRY_AFTER_S = 60.0
_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
#: Names for requests made without one (``ChatClient.complete``'s ``request_id``).
_REQUEST_IDS = itertools.count(1)


@dataclass(frozen=True)
class ChatResult:
    message: AssistantMessage
    usage: Usage
    latency_ms: float
    attempts: int


class ChatClient:
    """One model endpoint for one agent on one worker; safe for many concurrent calls.

    >>> client = ChatClient(OpenAIModel(model="m", base_url="http://127.0.0.1:9/v1"), Limits())
    >>> client.label
    'm@http://127.0.0.1:9/v1'
    """

    def __init__(
        self,
        spec: OpenAIModel,
        limits: Limits,
        output: type[BaseModel] | None = None,
    ) -> None:
        self.spec = spec
        self.limits = limits
        self.label = spec.label
        #: One attempt's time: the model's own timeout within the agent's call timeout.
        self.timeout_s = min(spec.timeout, limits.call_timeout).total_seconds()
        self._key = spec.api_key()
        # The SDK's aiohttp transport: a call costs 40% less CPU than over its default httpx
        # one (bench/README.md), and one connection pool serves every concurrent call.
        self._client = openai.AsyncOpenAI(
            base_url=spec.base_url,
            api_key=self._key,
            timeout=self.timeout_s,
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(
                verify=tls_context(),
                timeout=self.timeout_s,
                limits=httpx2.Limits(max_connections=limits.max_in_flight),
            ),
        )
        self._response_format = _response_format(spec, output)

    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> ChatResult:
        """One chat completion, retried on 429, 5xx, timeouts and unreadable answers.

        ``request_id`` names the request (the runtime gives the call's id); it is the SDK's
        idempotency key for every attempt. Without one, the SDK would make a random key for
        each POST, with a system call that gives up the interpreter's lock, and OpenAI's
        client never sends it.
        """
        key = request_id or f"request-{next(_REQUEST_IDS)}"
        attempts, started = 0, time.monotonic()
        while True:
            attempts += 1
            try:
                # The SDK's documented request path, without create()'s walk over the
                # parameters: our messages are wire-format dicts already, and that walk was
                # half of the CPU of a call (bench/README.md).
                # The body as bytes, read here: the SDK's model construction for a
                # ChatCompletion cost a tenth of a call's CPU (measured), for five fields.
                body = await self._client.post(
                    "/chat/completions",
                    body=self._request(messages, tools),
                    cast_to=bytes,
                    options={"idempotency_key": key},
                )
                return _result(json.loads(body), attempts, started)
            except openai.APIStatusError as exc:
                if exc.status_code not in _RETRYABLE_STATUS:
                    raise ModelRejected(self._explain(exc, attempts)) from None
                failure: Exception = exc
                wait = _retry_after(exc.response)
            except (
                openai.APIConnectionError,
                openai.APIResponseValidationError,
                ValueError,
            ) as exc:
                failure, wait = exc, None
            if attempts > self.limits.max_retries:
                raise ModelUnavailable(self._explain(failure, attempts)) from None
            backoff = self.limits.backoff_after(attempts)
            # A server's Retry-After wins over our backoff, within reason.
            await asyncio.sleep(min(wait, _MAX_RETRY_AFTER_S) if wait else backoff.total_seconds())

    async def close(self) -> None:
        await self._client.close()

    def _request(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.spec.model, "messages": messages}
        if tools:
            request["tools"] = tools
        if self._response_format:
            request["response_format"] = self._response_format
        if self.spec.temperature is not None:
            request["temperature"] = self.spec.temperature
        if self.spec.max_tokens is not None:
            request["max_tokens"] = self.spec.max_tokens
        if self.spec.extra_body:
            request.update(self.spec.extra_body)
        return request

    def _explain(self, exc: Exception, attempts: int) -> str:
        if isinstance(exc, openai.APIStatusError):
            what = f"HTTP {exc.status_code}: {_error_message(exc)}"
        elif isinstance(exc, openai.APIConnectionError) and (refused := _connect_failure(exc)):
            what = f"could not connect ({refused})"
        elif isinstance(exc, openai.APITimeoutError):
            what = f"timed out after {self.timeout_s:g}s"
        elif isinstance(exc, openai.APIConnectionError):
            what = f"could not connect ({exc.__cause__ or exc})"
        else:
            what = f"unreadable answer ({type(exc).__name__}: {exc})"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return redact(f"{self.label}: {what}{tries}", [self._key])


def _connect_failure(exc: BaseException) -> OSError | None:
    """The operating system's error under an SDK connection error, if connecting failed.

    The aiohttp transport reports a refused connection as a connect *timeout*, so the SDK
    raises ``APITimeoutError`` for it: the cause chain tells the two apart.
    """
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return cause
        cause = cause.__cause__
    return None


def _response_format(spec: OpenAIModel, output: type[BaseModel] | None) -> dict[str, Any] | None:
    if output is None or spec.structured_output == "prompt":
        return None
    if spec.structured_output == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": output.__name__, "schema": output.model_json_schema()},
    }


def _result(answer: Any, attempts: int, started: float) -> ChatResult:
    """A chat completion's answer (decoded JSON), checked as far as this project reads it.

    >>> _result({"choices": [{"message": {"content": "hi"}}]}, 1, time.monotonic()).message
    AssistantMessage(content='hi', tool_calls=[])
    >>> _result({"choices": []}, 1, 0.0)
    Traceback (most recent call last):
    ValueError: the answer has no choices
    """
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not choices or not isinstance(choices, list):
        raise ValueError("the answer has no choices")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise ValueError("the answer's first choice has no message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError(f"the answer's content is not text: {content!r:.100}")
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue  # not a function call: nothing this project can run
        arguments = function.get("arguments")
        calls.append(
            ToolCallRequest(
                id=str(call.get("id") or ""),
                name=function["name"],
                arguments=arguments if isinstance(arguments, str) and arguments else "{}",
            )
        )
    usage = answer.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return ChatResult(
        message=AssistantMessage(content=content, tool_calls=calls),
        usage=Usage(
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
        ),
        latency_ms=(time.monotonic() - started) * 1000,
        attempts=attempts,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    try:
        return json.dumps(body)[:300] if body is not None else exc.message
    except (TypeError, ValueError):
        return exc.message
