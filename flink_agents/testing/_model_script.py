"""What a model-simulator script sees and answers: requests, replies, tool calls and faults.

A script is a function from a ``ChatRequest`` to a ``Reply``; ``ModelServer`` turns the reply
into an OpenAI chat-completions body (or an SSE stream), and ``Fault`` values make the server
misbehave before the script runs.

>>> def script(req: ChatRequest) -> Reply:
...     if req.turn == 0:
...         return Reply.tool_calls([ToolCall("lookup", {"id": 1})])
...     return Reply.json({"answer": req.tool_results[0].content})
>>> first = ChatRequest(model="m", messages=[{"role": "user", "content": "go"}])
>>> script(first).calls
(ToolCall(name='lookup', arguments={'id': 1}, id=None),)
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, PrivateAttr

if TYPE_CHECKING:
    from flink_agents.testing._task_view import TaskView

DEFAULT_MODEL = "sim-1"
# A fixed timestamp keeps two runs of the same test byte-for-byte identical.
CREATED = 1_700_000_000
_FINGERPRINT = "fp_sim"


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return str(content)


def _words(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One ``tool`` message answering the model's latest tool calls.

    >>> ToolResult(name="risk_score", call_id="call_1_0", content='{"score": 3}').name
    'risk_score'
    """

    name: str | None
    call_id: str
    content: str


class ChatRequest(BaseModel):
    """A chat-completions request body as the simulator received it, with reading helpers.

    Unknown fields (``tool_choice``, ``max_tokens``...) are kept as extra attributes.

    >>> req = ChatRequest(
    ...     model="sim-1",
    ...     messages=[
    ...         {"role": "system", "content": "Decide."},
    ...         {"role": "user", "content": "card c1"},
    ...         {"role": "assistant", "content": None, "tool_calls": [
    ...             {"id": "t1", "type": "function",
    ...              "function": {"name": "profile", "arguments": "{}"}}]},
    ...         {"role": "tool", "tool_call_id": "t1", "content": "gold"},
    ...     ],
    ...     tools=[{"type": "function", "function": {"name": "profile"}}],
    ...     tool_choice="auto",
    ... )
    >>> req.last_user_text, req.system_text, req.turn, req.tool_names
    ('card c1', 'Decide.', 1, ['profile'])
    >>> req.tool_results
    [ToolResult(name='profile', call_id='t1', content='gold')]
    >>> req.tool_choice
    'auto'
    """

    model_config = ConfigDict(extra="allow")

    model: str = DEFAULT_MODEL
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None
    temperature: float | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None

    _headers: dict[str, str] = PrivateAttr(default_factory=dict)
    _number: int = PrivateAttr(default=0)

    @classmethod
    def from_wire(cls, body: dict[str, Any], headers: dict[str, str], number: int) -> ChatRequest:
        """Build from a decoded body without validating it field by field (the hot path).

        The server has already checked that ``messages`` is a list of objects.

        >>> req = ChatRequest.from_wire({"messages": [], "seed": 3}, {"x-team": "risk"}, 5)
        >>> req.number, req.headers["x-team"], req.seed
        (5, 'risk', 3)
        """
        req = cls.model_construct(**body)
        req._headers = headers
        req._number = number
        return req

    @property
    def headers(self) -> dict[str, str]:
        """The HTTP request headers, names in lower case."""
        return self._headers

    @property
    def number(self) -> int:
        """This request's position among the server's chat requests, from 1 (0 if built by hand)."""
        return self._number

    @property
    def last_user_text(self) -> str | None:
        """Text of the last ``user`` message (text parts joined by newlines), or None if none."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return text_of(message.get("content"))
        return None

    @property
    def system_text(self) -> str | None:
        """Text of the ``system`` (and ``developer``) messages, one per line, or None."""
        texts = [
            text_of(m.get("content"))
            for m in self.messages
            if m.get("role") in ("system", "developer")
        ]
        return "\n".join(texts) if texts else None

    @property
    def turn(self) -> int:
        """How many assistant messages the conversation already holds (0 on a task's first call)."""
        return sum(1 for m in self.messages if m.get("role") == "assistant")

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools offered with this request."""
        names = []
        for tool in self.tools or ():
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else tool.get("name")
            if isinstance(name, str):
                names.append(name)
        return names

    @property
    def tool_results(self) -> list[ToolResult]:
        """The ``tool`` messages answering the latest assistant message, if it made tool calls.

        Once the model has answered again without tool calls, older results no longer count,
        so a multi-turn script sees only the results it is waiting for.
        """
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].get("role") == "assistant":
                break
        else:
            return []
        calls = self.messages[index].get("tool_calls") or []
        names: dict[Any, Any] = {
            call.get("id"): (call.get("function") or {}).get("name")
            for call in calls
            if isinstance(call, dict)
        }
        if not names:
            return []
        return [
            ToolResult(
                name=names.get(m.get("tool_call_id")) or m.get("name"),
                call_id=str(m.get("tool_call_id", "")),
                content=text_of(m.get("content")),
            )
            for m in self.messages[index + 1 :]
            if m.get("role") == "tool"
        ]

    @property
    def task(self) -> TaskView:
        """The current task of an agent's request: its input, turns and tool results, apart
        from the memory of earlier tasks that the conversation also holds.

        >>> req = ChatRequest(messages=[
        ...     {"role": "user", "content": "first"}, {"role": "assistant", "content": "done"},
        ...     {"role": "user", "content": '{"n": 2}'}])
        >>> req.turn, req.task.turn, req.task.input, len(req.task.memory)
        (1, 0, {'n': 2}, 2)
        """
        from flink_agents.testing._task_view import task_of

        return task_of(self.messages)

    def prompt_tokens(self) -> int:
        """Deterministic prompt size: words of every message and tool-call argument (at least 1)."""
        total = 0
        for message in self.messages:
            total += _words(text_of(message.get("content")))
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    total += _words(str(call["function"].get("arguments") or ""))
        return max(1, total)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the simulated model makes; ``arguments`` as a string is sent verbatim.

    A string lets a test send arguments that are not valid JSON on purpose.

    >>> ToolCall("risk_score", {"merchant_id": "m1"}).arguments_json
    '{"merchant_id": "m1"}'
    >>> ToolCall("risk_score", "{not json", id="c9").arguments_json
    '{not json'
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments as the ``function.arguments`` string of the wire format."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """An OpenAI-shaped error body.

    >>> error_body(429, "slow down")
    {'error': {'message': 'slow down', 'type': 'rate_limit_error', 'param': None, 'code': None}}
    """
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _check_error_status(status: int, who: str) -> None:
    if not 400 <= status <= 599:
        raise ValueError(f"{who} needs an error status between 400 and 599, got {status}")


@dataclass(frozen=True, slots=True)
class Reply:
    """What the simulated model answers; made with ``text``, ``json``, ``tool_calls``, ``error``.

    ``usage=(prompt_tokens, completion_tokens)`` overrides the computed usage; ``delay_ms``
    replaces the server's latency for this reply.

    >>> body = Reply.json({"decision": "APPROVE"}).to_dict()
    >>> body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]
    ('{"decision": "APPROVE"}', 'stop')
    >>> body["usage"]
    {'prompt_tokens': 1, 'completion_tokens': 2, 'total_tokens': 3}
    """

    content: str | None = None
    calls: tuple[ToolCall, ...] = ()
    usage: tuple[int, int] | None = None
    delay_ms: float | None = None
    finish_reason: str | None = None
    status: int = 200
    error_message: str = ""
    error_code: str | None = None
    retry_after: float | None = None

    @classmethod
    def text(
        cls,
        text: str,
        *,
        usage: tuple[int, int] | None = None,
        delay_ms: float | None = None,
        finish_reason: str = "stop",
    ) -> Reply:
        """A plain text answer.

        >>> Reply.text("hello").content
        'hello'
        """
        return cls(content=text, usage=usage, delay_ms=delay_ms, finish_reason=finish_reason)

    @classmethod
    def json(
        cls,
        obj: Any,
        *,
        usage: tuple[int, int] | None = None,
        delay_ms: float | None = None,
    ) -> Reply:
        """An answer whose content is ``json.dumps(obj)`` (structured output).

        >>> Reply.json({"ok": True}).content
        '{"ok": true}'
        """
        return cls(content=json.dumps(obj), usage=usage, delay_ms=delay_ms, finish_reason="stop")

    @classmethod
    def tool_calls(
        cls,
        calls: Sequence[ToolCall],
        text: str | None = None,
        *,
        usage: tuple[int, int] | None = None,
        delay_ms: float | None = None,
    ) -> Reply:
        """An answer asking for tool calls; ids default to ``call_<request number>_<index>``.

        >>> message = Reply.tool_calls([ToolCall("profile", {"card_id": "c1"})]).to_dict(
        ...     number=7)["choices"][0]["message"]
        >>> message["tool_calls"][0]["id"], message["tool_calls"][0]["function"]["arguments"]
        ('call_7_0', '{"card_id": "c1"}')
        """
        if not calls:
            raise ValueError("Reply.tool_calls needs at least one ToolCall; use Reply.text instead")
        return cls(
            content=text,
            calls=tuple(calls),
            usage=usage,
            delay_ms=delay_ms,
            finish_reason="tool_calls",
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        code: str | None = None,
        *,
        retry_after: float | None = None,
        delay_ms: float | None = None,
    ) -> Reply:
        """An HTTP error with an OpenAI error body (``retry_after`` sets the header).

        >>> Reply.error(400, "context too long", code="context_length_exceeded").to_dict()
        {'error': {'message': 'context too long', 'type': 'invalid_request_error', \
'param': None, 'code': 'context_length_exceeded'}}
        """
        _check_error_status(status, "Reply.error")
        return cls(
            status=status,
            error_message=message,
            error_code=code,
            retry_after=retry_after,
            delay_ms=delay_ms,
        )

    def completion_tokens(self) -> int:
        """Deterministic completion size: words of the content and arguments (at least 1)."""
        total = _words(self.content or "")
        for call in self.calls:
            total += _words(call.arguments_json)
        return max(1, total)

    def _usage(self, prompt_tokens: int) -> dict[str, int]:
        prompt, completion = self.usage or (prompt_tokens, self.completion_tokens())
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _wire_calls(self, number: int) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id or f"call_{number}_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for index, call in enumerate(self.calls)
        ]

    def to_dict(
        self, number: int = 1, model: str = DEFAULT_MODEL, prompt_tokens: int = 1
    ) -> dict[str, Any]:
        """The response body: a ``chat.completion`` object, or the error body of an error reply."""
        if self.status != 200:
            return error_body(self.status, self.error_message, self.error_code)
        message: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        if self.calls:
            message["tool_calls"] = self._wire_calls(number)
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason or "stop",
                }
            ],
            "usage": self._usage(prompt_tokens),
        }

    def to_chunks(
        self,
        number: int = 1,
        model: str = DEFAULT_MODEL,
        prompt_tokens: int = 1,
        include_usage: bool = False,
    ) -> list[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of a streamed answer, in order.

        Content arrives word by word and each tool call as a header chunk followed by its
        arguments, which is how clients must reassemble OpenAI streams.

        >>> chunks = Reply.text("a b").to_chunks()
        >>> [c["choices"][0]["delta"].get("content") for c in chunks]
        ['', 'a ', 'b', None]
        """
        base = {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": _FINGERPRINT,
        }
        deltas: list[dict[str, Any]] = [
            {"role": "assistant", "content": "" if self.content is not None else None}
        ]
        if self.content:
            deltas.extend({"content": piece} for piece in _pieces(self.content))
        for index, call in enumerate(self._wire_calls(number)):
            function = call["function"]
            header = {**call, "index": index, "function": {"name": function["name"]}}
            header["function"]["arguments"] = ""
            deltas.append({"tool_calls": [header]})
            deltas.extend(
                {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                for piece in _pieces(function["arguments"])
            )
        deltas.append({})
        chunks = []
        for position, delta in enumerate(deltas):
            last = position == len(deltas) - 1
            choice = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": (self.finish_reason or "stop") if last else None,
            }
            chunk: dict[str, Any] = {**base, "choices": [choice]}
            if include_usage:
                chunk["usage"] = None
            chunks.append(chunk)
        if include_usage:
            chunks.append({**base, "choices": [], "usage": self._usage(prompt_tokens)})
        return chunks


_PIECE_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


def _pieces(text: str) -> list[str]:
    """Split after each run of whitespace, so the pieces join back to exactly ``text``."""
    return [piece for piece in _PIECE_BOUNDARY.split(text) if piece]


Script: TypeAlias = Reply | Callable[[ChatRequest], Reply | Awaitable[Reply]]
"""A script: a Reply (same answer every time), or a sync or async function of the request."""


def echo(req: ChatRequest) -> Reply:
    """The default script: answer with the text of the last user message.

    >>> echo(ChatRequest(messages=[{"role": "user", "content": "ping"}])).content
    'ping'
    """
    return Reply.text(req.last_user_text or "")


FaultKind = Literal["status", "timeout", "malformed"]


class Fault:
    """A misbehaviour the server applies before the script, to the requests it selects.

    Select with ``times=N`` (the first N), ``every=K`` (every K-th) or ``rate=p`` (seeded random);
    ``when=`` restricts a fault to the requests it returns True for. Faults are checked in the
    order added; the first error fault that fires answers the request at once (without the
    server's latency), while a timeout fault only delays it and lets later faults and the
    script run.

    >>> Fault.status(429, times=2, retry_after=1)
    Fault.status(429, times=2, retry_after=1)
    >>> Fault.parse("503:rate=0.1,seed=7")
    Fault.status(503, rate=0.1, seed=7)
    """

    def __init__(
        self,
        kind: FaultKind,
        *,
        status: int = 200,
        seconds: float = 0.0,
        times: int | None = None,
        every: int | None = None,
        rate: float | None = None,
        seed: int = 0,
        retry_after: float | None = None,
        message: str | None = None,
        when: Callable[[ChatRequest], bool] | None = None,
        always: bool = False,
    ) -> None:
        selectors = (("times", times), ("every", every), ("rate", rate))
        chosen = [name for name, value in selectors if value is not None]
        maker = f"Fault.{kind}" if kind != "status" else f"Fault.status({status})"
        if always and chosen:
            raise ValueError(f"Fault.always takes no {chosen[0]}=; it fails every request")
        if not always and len(chosen) != 1:
            raise ValueError(
                f"{maker} needs exactly one of times=N, every=K or rate=P (got "
                f"{', '.join(chosen) or 'none'}); use Fault.always(code) to fail every request"
            )
        if times is not None and times < 0:
            raise ValueError(f"{maker}: times must be 0 or more, got {times}")
        if every is not None and every < 1:
            raise ValueError(f"{maker}: every must be 1 or more, got {every}")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"{maker}: rate is a probability between 0 and 1, got {rate}")
        if seconds < 0:
            raise ValueError(f"Fault.timeout needs seconds >= 0, got {seconds}")
        self.kind: FaultKind = kind
        self.status_code = status
        self.seconds = seconds
        self.times = times
        self.every = every
        self.rate = rate
        self.seed = seed
        self.retry_after = retry_after
        self.message = message
        self.when = when
        self.hits_all = always
        self._seen = 0
        self._fired = 0
        self._rng = random.Random(seed)

    @classmethod
    def status(
        cls,
        code: int,
        *,
        times: int | None = None,
        every: int | None = None,
        rate: float | None = None,
        seed: int = 0,
        retry_after: float | None = None,
        message: str | None = None,
        when: Callable[[ChatRequest], bool] | None = None,
    ) -> Fault:
        """Answer the selected requests with HTTP ``code`` and an OpenAI error body.

        >>> Fault.status(500, every=3).every
        3
        """
        _check_error_status(code, "Fault.status")
        return cls(
            "status",
            status=code,
            times=times,
            every=every,
            rate=rate,
            seed=seed,
            retry_after=retry_after,
            message=message,
            when=when,
        )

    @classmethod
    def always(
        cls,
        code: int,
        *,
        retry_after: float | None = None,
        message: str | None = None,
        when: Callable[[ChatRequest], bool] | None = None,
    ) -> Fault:
        """Answer every (matching) request with HTTP ``code``.

        >>> Fault.always(503)
        Fault.always(503)
        """
        _check_error_status(code, "Fault.always")
        return cls(
            "status", status=code, retry_after=retry_after, message=message, when=when, always=True
        )

    @classmethod
    def timeout(
        cls,
        seconds: float,
        *,
        times: int | None = None,
        every: int | None = None,
        rate: float | None = None,
        seed: int = 0,
        when: Callable[[ChatRequest], bool] | None = None,
    ) -> Fault:
        """Hold the selected requests ``seconds`` before answering, to trip client timeouts.

        >>> Fault.timeout(5, times=1).seconds
        5
        """
        return cls(
            "timeout", seconds=seconds, times=times, every=every, rate=rate, seed=seed, when=when
        )

    @classmethod
    def malformed(
        cls,
        *,
        times: int | None = None,
        every: int | None = None,
        rate: float | None = None,
        seed: int = 0,
        when: Callable[[ChatRequest], bool] | None = None,
    ) -> Fault:
        """Answer the selected requests 200 with a body that is not valid JSON.

        >>> Fault.malformed(times=1)
        Fault.malformed(times=1)
        """
        return cls("malformed", times=times, every=every, rate=rate, seed=seed, when=when)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """A fault from its command-line form ``WHAT[:OPTION=VALUE,...]``.

        WHAT is an HTTP status (``500``), ``timeout=SECONDS`` or ``malformed``; options are
        ``times``, ``every``, ``rate``, ``seed`` and (for statuses) ``retry_after``. Without
        times/every/rate the fault applies to every request.

        >>> Fault.parse("500:times=2"), Fault.parse("timeout=30:every=10"), Fault.parse("429")
        (Fault.status(500, times=2), Fault.timeout(30, every=10), Fault.always(429))
        """
        what, _, rest = spec.partition(":")
        options: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq or key not in ("times", "every", "rate", "seed", "retry_after"):
                raise ValueError(
                    f"fault {spec!r}: cannot read option {item!r}; expected times=N, every=K, "
                    "rate=P, seed=S or retry_after=SECONDS, e.g. '500:times=2'"
                )
            options[key] = value
        try:
            times = int(options["times"]) if "times" in options else None
            every = int(options["every"]) if "every" in options else None
            rate = float(options["rate"]) if "rate" in options else None
            seed = int(options.get("seed", "0"))
            retry_after = float(options["retry_after"]) if "retry_after" in options else None
            selected = times is not None or every is not None or rate is not None
            if what == "malformed" or what.startswith("timeout="):
                if retry_after is not None:
                    raise ValueError("retry_after applies only to HTTP status faults")
                if not selected:
                    every = 1
                if what == "malformed":
                    return cls.malformed(times=times, every=every, rate=rate, seed=seed)
                seconds = float(what.removeprefix("timeout="))
                return cls.timeout(seconds, times=times, every=every, rate=rate, seed=seed)
            code = int(what)
            if not selected:
                return cls.always(code, retry_after=retry_after)
            return cls.status(
                code, times=times, every=every, rate=rate, seed=seed, retry_after=retry_after
            )
        except ValueError as exc:
            raise ValueError(
                f"fault {spec!r}: {exc}. Write an HTTP status, 'timeout=SECONDS' or 'malformed', "
                "then options, e.g. '500:times=2', '429:rate=0.1,seed=7,retry_after=1', "
                "'timeout=30:times=1', 'malformed:every=5'"
            ) from None

    @property
    def fired(self) -> int:
        """How many requests this fault has hit so far."""
        return self._fired

    def fires(self, req: ChatRequest) -> bool:
        """Whether this fault hits ``req``; counts the request. Called once per request, in order.

        >>> fault = Fault.status(500, every=2)
        >>> req = ChatRequest(messages=[])
        >>> [fault.fires(req) for _ in range(4)], fault.fired
        ([False, True, False, True], 2)
        """
        if self.when is not None and not self.when(req):
            return False
        self._seen += 1
        if self.hits_all:
            hit = True
        elif self.times is not None:
            hit = self._seen <= self.times
        elif self.every is not None:
            hit = self._seen % self.every == 0
        else:
            hit = self._rng.random() < (self.rate or 0.0)
        self._fired += hit
        return hit

    def restart(self) -> None:
        """Forget the requests seen, so the fault selects as if new (used by ``reset``)."""
        self._seen = 0
        self._fired = 0
        self._rng = random.Random(self.seed)

    def error_message(self) -> str:
        """The message of the error body this fault answers with.

        >>> Fault.status(500, times=1).error_message()
        'simulated HTTP 500 from the model simulator'
        """
        return self.message or f"simulated HTTP {self.status_code} from the model simulator"

    def __repr__(self) -> str:
        if self.kind == "status":
            head = f"Fault.{'always' if self.hits_all else 'status'}({self.status_code}"
        elif self.kind == "timeout":
            head = f"Fault.timeout({_compact(self.seconds)}"
        else:
            head = "Fault.malformed("
        args = [
            f"{name}={value}"
            for name, value in (
                ("times", self.times),
                ("every", self.every),
                ("rate", self.rate),
                ("seed", self.seed if self.rate is not None else None),
                ("retry_after", _compact(self.retry_after)),
            )
            if value is not None
        ]
        if self.when is not None:
            args.append("when=...")
        sep = ", " if args and not head.endswith("(") else ""
        return f"{head}{sep}{', '.join(args)})"


def _compact(value: float | None) -> float | int | None:
    """Show 1.0 as 1, as people write it."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value
