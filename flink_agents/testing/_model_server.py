"""The model simulator: a real HTTP server speaking the OpenAI chat-completions API.

It is the project's only test double for models. Clients reach it exactly as they would reach
OpenAI, vLLM or Ollama (``openai.AsyncOpenAI(base_url=server.base_url, api_key=...)``), and a
script decides each answer deterministically. The server is a bare ASGI callable on uvicorn
with httptools: benchmarks push thousands of requests a second through it, so the per-request
path avoids frameworks and whole-body validation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import importlib
import importlib.util
import inspect
import json
import logging
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import uvicorn

from flink_agents.testing._model_script import (
    DEFAULT_MODEL,
    ChatRequest,
    Fault,
    Reply,
    Script,
    echo,
    error_body,
)

log = logging.getLogger("flink_agents.testing.model_server")

_Scope = dict[str, Any]
_Receive = Callable[[], Awaitable[dict[str, Any]]]
_Send = Callable[[dict[str, Any]], Awaitable[None]]

_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})


def fingerprint(secret: str) -> str:
    """How the simulator records a credential header: a digest, never the value.

    A test checks that the right key arrived by comparing fingerprints.

    >>> fingerprint("Bearer sk-test")
    'redacted:sha256:96018835490a'
    """
    return "redacted:sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


_MALFORMED = b'{"id": "chatcmpl-broken", "choices": [{"message": '


@dataclass(frozen=True, slots=True, repr=False)
class RecordedRequest:
    """One request as the server received it, with the status it answered (None while pending).

    ``number`` is the chat request's position (from 1; 0 for other endpoints); ``delay_ms``
    the latency the simulator added before answering it (None where it added none). Credential
    headers (``authorization``, ``api-key``, ...) are recorded as their ``fingerprint``, so
    neither a script, nor ``GET /_sim/requests``, nor a failing assertion shows a key.
    """

    number: int
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    time: float
    status: int | None = None
    finished: float | None = None
    error: str | None = None
    delay_ms: float | None = None

    @property
    def chat(self) -> ChatRequest:
        """The body as a ``ChatRequest`` (with this request's headers and number)."""
        body = self.body if isinstance(self.body.get("messages"), list) else {"messages": []}
        return ChatRequest.from_wire(body, self.headers, self.number)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form served by ``GET /_sim/requests`` (headers as received)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        return (
            f"RecordedRequest(number={self.number}, method={self.method!r}, path={self.path!r}, "
            f"status={self.status}, error={self.error!r}, headers={self.headers!r}, "
            f"body={self.body!r})"
        )


@dataclass(slots=True)
class _Record:
    """Mutable while the request is in flight; snapshots copy it into a RecordedRequest."""

    number: int
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    time: float
    status: int | None = None
    finished: float | None = None
    error: str | None = None
    delay_ms: float | None = None
    generation: int = 0

    def freeze(self) -> RecordedRequest:
        return RecordedRequest(**{f.name: getattr(self, f.name) for f in fields(RecordedRequest)})


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes | list[bytes]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None

    async def send(self, send: _Send) -> None:
        if isinstance(self.body, bytes):
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self.body)).encode()),
                *self.headers,
            ]
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            await send({"type": "http.response.body", "body": self.body})
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        for event in self.body:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _error(
    status: int, message: str, code: str | None = None, retry_after: float | None = None
) -> _Response:
    headers = []
    if retry_after is not None:
        value = int(retry_after) if float(retry_after).is_integer() else retry_after
        headers.append((b"retry-after", str(value).encode()))
    return _Response(status, _dump(error_body(status, message, code)), headers, error=message)


async def _read_body(receive: _Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


def _bad_request(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """Decode a chat body; return it and the reason it cannot be served (None if it can)."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return {}, f"the request body is not valid JSON ({exc}); send a JSON object"
    if not isinstance(body, dict):
        return {}, f"the request body must be a JSON object, got {type(body).__name__}"
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return body, "'messages' is required and must be a list of message objects"
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        return body, "'tools' must be a list of tool objects"
    return body, None


# Threading: all request state is written only by the server's event-loop thread. Other threads
# read it through single C-level copies (list(deque), sorted(dict items)), which the GIL makes
# atomic, and reset() swaps in fresh objects. So the request path takes no lock, and a test
# inspecting `requests` under load never stalls the loop (nor trips a blocking-call detector).


class ModelServer:
    """A deterministic OpenAI-compatible model server running in a background thread.

    ``script`` is a Reply (same answer every time) or a sync or async function from
    ``ChatRequest`` to ``Reply``; sync scripts run on the server's event loop, so keep them
    quick and make slow ones ``async``. ``latency_ms`` (plus uniform ``jitter_ms`` either side,
    drawn from ``seed``) is awaited per request, so concurrent requests overlap their waits.
    ``max_recorded`` bounds memory in long benchmarks by keeping only the newest requests.

    >>> from openai import OpenAI
    >>> with ModelServer(Reply.text("hi")) as server:
    ...     client = OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    ...     answer = client.chat.completions.create(
    ...         model="sim-1", messages=[{"role": "user", "content": "hello"}])
    ...     client.close()
    ...     answer.choices[0].message.content, server.count()
    ('hi', 1)
    """

    def __init__(
        self,
        script: Script = echo,
        *,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        seed: int = 0,
        faults: Sequence[Fault] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        max_recorded: int | None = None,
    ) -> None:
        _check_latency(latency_ms, jitter_ms)
        self._initial = (_as_script(script), float(latency_ms), float(jitter_ms), tuple(faults))
        self._seed = seed
        self._host = host
        self._requested_port = port
        self._max_recorded = max_recorded
        self._port = 0
        self._thread: threading.Thread | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._generation = 0
        self.reset()

    # -- control -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the constructor's script, latency and faults; forget requests and counts."""
        script, latency, jitter, faults = self._initial
        for fault in faults:
            fault.restart()
        # Requests still in flight from before the reset must not count after it.
        self._generation += 1
        self._script = script
        self._latency_s = latency / 1000
        self._jitter_s = jitter / 1000
        self._rng = random.Random(self._seed)
        self._faults: tuple[Fault, ...] = faults
        # Fresh objects rather than clear(): a request finishing meanwhile writes to the old ones.
        self._records: deque[_Record] = deque(maxlen=self._max_recorded)
        self._chat_count = 0
        self._by_status: Counter[int] = Counter()
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._models: set[str] = set()

    def set_script(self, script: Script) -> None:
        """Answer the next requests with ``script``."""
        self._script = _as_script(script)

    def set_latency(self, ms: float, jitter_ms: float | None = None) -> None:
        """Change the per-request latency (and jitter, when given)."""
        _check_latency(ms, jitter_ms or 0.0)
        self._latency_s = ms / 1000
        if jitter_ms is not None:
            self._jitter_s = jitter_ms / 1000

    def add_fault(self, fault: Fault) -> Fault:
        """Apply ``fault`` after the faults already added; returns it (to read ``fired``)."""
        if not isinstance(fault, Fault):
            raise TypeError(
                f"add_fault takes a Fault (e.g. Fault.status(500, times=1)), got {fault!r}"
            )
        self._faults = (*self._faults, fault)
        return fault

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> ModelServer:
        """Listen on ``host:port`` (port 0 picks a free one) and wait until the server answers."""
        if self._thread is not None:
            raise RuntimeError("this ModelServer is already running; call stop() before start()")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then,
        # and without it every response waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno,
                f"the model server cannot listen on {self._host}:{self._requested_port} ({exc}); "
                "stop what uses that port or pass port=0 to pick a free one",
            ) from exc
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            http="httptools",
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            log_config=None,  # leave the host process's logging alone
            access_log=False,
            proxy_headers=False,
            server_header=False,
            date_header=False,
            timeout_keep_alive=30,
            backlog=4096,
        )
        self._uvicorn = uvicorn.Server(config)
        self._failure = None
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, args=(self._uvicorn, sock), name="model-server", daemon=True
        )
        self._thread.start()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start() or `running`
            self._failure = exc
            log.exception("model server stopped with an error")
        finally:
            sock.close()
            loop.close()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self._uvicorn is not None
        assert self._thread is not None
        idle = threading.Event()
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the model server did not start: {self._failure!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the model server did not start within {timeout} s")
            idle.wait(0.005)
        conn = http.client.HTTPConnection(self._connect_host(), self._port, timeout=timeout)
        try:
            conn.request("GET", "/_sim/stats")
            status = conn.getresponse().status
        finally:
            conn.close()
        if status != 200:
            raise RuntimeError(f"the model server answered its readiness probe with {status}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; requests still waiting (latency, timeout faults) get a 503."""
        thread, server, loop = self._thread, self._uvicorn, self._loop
        if thread is None or server is None:
            return
        self._stopping = True
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may close meanwhile
                loop.call_soon_threadsafe(self._cancel_in_flight)
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._thread = self._uvicorn = self._loop = None

    def _cancel_in_flight(self) -> None:
        for task in list(self._in_flight):
            task.cancel()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inspection --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the server thread serves."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The port listened on (0 before ``start``)."""
        return self._port

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url`` to give clients, e.g. ``http://127.0.0.1:PORT/v1``."""
        if not self._port:
            raise RuntimeError("the model server has no address yet; call start() first")
        host = self._connect_host()
        return f"http://{f'[{host}]' if ':' in host else host}:{self._port}/v1"

    def _connect_host(self) -> str:
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self._host, self._host)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (except ``/_sim/`` control calls), in arrival order."""
        return [record.freeze() for record in list(self._records)]

    def count(self, pred: Callable[[ChatRequest], bool] | None = None) -> int:
        """How many chat-completion requests arrived (those for which ``pred`` holds, if given).

        Without ``pred`` the count is exact even when ``max_recorded`` dropped old requests.
        """
        if pred is None:
            return self._chat_count
        return sum(1 for r in self.requests if r.number and pred(r.chat))

    def stats(self) -> dict[str, Any]:
        """Counts: chat requests, answers by status, tokens served, requests in flight."""
        prompt, completion = self._prompt_tokens, self._completion_tokens
        return {
            "requests": self._chat_count,
            "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
            "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion},
            "in_flight": len(self._in_flight),
        }

    # -- HTTP --------------------------------------------------------------------------------

    async def _asgi(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/_sim/"):
            await self._control(path, method, await _read_body(receive)).send(send)
            return
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        record: _Record | None = None
        response: _Response | None = None
        try:
            raw = await _read_body(receive)
            record = self._arrive(scope, path, method)
            if self._stopping:
                response = _error(503, "the model server is stopping", "server_stopping")
            elif method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
                response = await self._chat(record, raw)
            else:
                response = self._other(path, method)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            response = _error(503, "the model server is stopping", "server_stopping")
        finally:
            self._in_flight.discard(task)
            if record is not None:
                # Recorded before sending: a client holding its answer must find it recorded.
                self._finish(record, response)
        await response.send(send)

    def _arrive(self, scope: _Scope, path: str, method: str) -> _Record:
        headers = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = fingerprint(value) if name in _SECRET_HEADERS else value
        is_chat = path.endswith("/chat/completions")
        number = 0
        if is_chat:
            self._chat_count += 1
            number = self._chat_count
        record = _Record(number, method, path, headers, {}, time.time())
        record.generation = self._generation
        self._records.append(record)
        return record

    def _finish(self, record: _Record, response: _Response | None) -> None:
        record.finished = time.time()
        if response is None:
            record.error = record.error or "the request was interrupted"
            return
        record.error = record.error or response.error
        record.status = response.status  # last: readers take a status as "finished"
        if record.number and record.generation == self._generation:
            self._by_status[response.status] += 1
            self._prompt_tokens += response.prompt_tokens
            self._completion_tokens += response.completion_tokens

    async def _chat(self, record: _Record, raw: bytes) -> _Response:
        body, problem = _bad_request(raw)
        record.body = body
        if problem is not None:
            return _error(400, problem, "invalid_request")
        req = ChatRequest.from_wire(body, record.headers, record.number)
        model = body.get("model")
        if isinstance(model, str):
            self._models.add(model)
        for fault in self._faults:
            try:
                hit = fault.fires(req)
            except Exception as exc:
                log.exception("the when= of %r failed on request %d", fault, record.number)
                return _error(500, f"the when= of {fault!r} raised {type(exc).__name__}: {exc}")
            if not hit:
                continue
            if fault.kind == "timeout":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "malformed":
                stream = [b"data: " + _MALFORMED + b"\n\n"]
                return _Response(200, stream if body.get("stream") else _MALFORMED)
            else:
                return _error(
                    fault.status_code, fault.error_message(), "simulated_fault", fault.retry_after
                )
        try:
            reply = self._script(req)
            if inspect.isawaitable(reply):
                reply = await reply
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("model-server script failed on request %d", record.number)
            return _error(500, f"the model-server script raised {type(exc).__name__}: {exc}")
        if not isinstance(reply, Reply):
            message = (
                f"the model-server script returned {type(reply).__name__}, not a Reply; "
                "return Reply.text(...), Reply.json(...), Reply.tool_calls(...) or Reply.error(...)"
            )
            log.error("%s", message)
            return _error(500, message, "script_error")
        delay = reply.delay_ms / 1000 if reply.delay_ms is not None else self._next_latency()
        if delay > 0:
            record.delay_ms = delay * 1000
            await asyncio.sleep(delay)
        if reply.status != 200:
            return _error(reply.status, reply.error_message, reply.error_code, reply.retry_after)
        model_name = model if isinstance(model, str) and model else DEFAULT_MODEL
        prompt_tokens = req.prompt_tokens()
        usage = reply.usage or (prompt_tokens, reply.completion_tokens())
        reply = replace(reply, usage=usage)  # counted once here, not again for the body
        request_id = (b"x-request-id", f"req_sim_{record.number}".encode())
        if body.get("stream"):
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            chunks = reply.to_chunks(record.number, model_name, prompt_tokens, include_usage)
            events = [b"data: " + _dump(chunk) + b"\n\n" for chunk in chunks]
            events.append(b"data: [DONE]\n\n")
            return _Response(200, events, [request_id], *usage)
        payload = _dump(reply.to_dict(record.number, model_name, prompt_tokens))
        return _Response(200, payload, [request_id], *usage)

    def _next_latency(self) -> float:
        latency, jitter = self._latency_s, self._jitter_s
        if jitter:
            return max(0.0, latency + self._rng.uniform(-jitter, jitter))
        return latency

    def _other(self, path: str, method: str) -> _Response:
        if method == "GET" and path in ("/v1/models", "/models"):
            return _Response(200, _dump({"object": "list", "data": self._model_list()}))
        for prefix in ("/v1/models/", "/models/"):
            if method == "GET" and path.startswith(prefix):
                name = path[len(prefix) :]
                return _Response(200, _dump(_model_entry(name)))
        return _error(
            404,
            f"the model simulator has no {method} {path}; it serves POST /v1/chat/completions "
            "and GET /v1/models (is the client's base_url .../v1?)",
            "unknown_url",
        )

    def _model_list(self) -> list[dict[str, Any]]:
        names = sorted(self._models - {DEFAULT_MODEL})
        return [_model_entry(name) for name in (DEFAULT_MODEL, *names)]

    def _control(self, path: str, method: str, raw: bytes = b"") -> _Response:
        if method == "GET" and path == "/_sim/requests":
            return _Response(200, _dump([r.to_dict() for r in self.requests]))
        if method == "GET" and path == "/_sim/stats":
            return _Response(200, _dump(self.stats()))
        if method == "POST" and path == "/_sim/reset":
            self.reset()
            return _Response(200, _dump({"reset": True}))
        if method == "POST" and path == "/_sim/latency":
            return self._set_latency_from(raw)
        return _error(
            404,
            f"unknown control call {method} {path}; use GET /_sim/requests, GET /_sim/stats, "
            "POST /_sim/reset or POST /_sim/latency",
            "unknown_url",
        )

    def _set_latency_from(self, raw: bytes) -> _Response:
        """``POST /_sim/latency {"latency_ms": 50, "jitter_ms": 5}``: change it while running."""
        try:
            body = json.loads(raw or b"{}")
            self.set_latency(float(body["latency_ms"]), float(body.get("jitter_ms", 0.0)))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f'send {{"latency_ms": N, "jitter_ms": M}}: {exc}', "bad_latency")
        now = {"latency_ms": self._latency_s * 1000, "jitter_ms": self._jitter_s * 1000}
        return _Response(200, _dump(now))


def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "flink-agents-simulator"}


def _check_latency(latency_ms: float, jitter_ms: float) -> None:
    if latency_ms < 0 or jitter_ms < 0:
        raise ValueError(
            f"latency_ms and jitter_ms must be 0 or more, got {latency_ms} and {jitter_ms}"
        )


def _as_script(script: Script) -> Callable[[ChatRequest], Reply | Awaitable[Reply]]:
    if isinstance(script, Reply):
        return lambda _req: script
    if not callable(script):
        raise TypeError(
            f"a model-server script is a Reply or a function of ChatRequest returning a Reply, "
            f"got {type(script).__name__}: {script!r}"
        )
    return script


def load_script(spec: str) -> Script:
    """Import ``pkg.module:name`` (or ``path/to/file.py:name``): a script function or a Reply.

    >>> load_script("flink_agents.testing._model_script:echo").__name__
    'echo'
    """
    module_name, colon, attr = spec.rpartition(":")
    if not colon or not module_name or not attr:
        raise ValueError(
            f"--script {spec!r} is not MODULE:FUNCTION; write e.g. 'mypkg.scripts:fraud_script'"
        )
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise FileNotFoundError(f"no file {path.resolve()}")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ImportError(f"{path} is not a Python module")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except Exception as exc:
        raise ValueError(
            f"--script {spec!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}. "
            f"Check the name and that its package is importable from {Path.cwd()} "
            "(set PYTHONPATH if it lives elsewhere)"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(
                f"--script {spec!r}: {module_name!r} has no {attr!r}; scripts it defines: "
                f"{', '.join(_scripts_in(module)) or 'none'}"
            )
        target = getattr(target, part)
    if not isinstance(target, Reply) and not callable(target):
        raise ValueError(
            f"--script {spec!r}: {attr!r} is of type {type(target).__name__}, "
            "not a function or a Reply"
        )
    script: Script = target
    return script


def _scripts_in(module: ModuleType) -> list[str]:
    """Public functions defined in ``module`` itself, and its Reply values: likely scripts."""
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (
            isinstance(value, Reply)
            or (inspect.isfunction(value) and value.__module__ == module.__name__)
        )
    )
